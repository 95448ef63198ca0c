package redisstore

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/chatring/chatring"
	"github.com/chatring/chatring/redisstore/redistest"
	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"
)

// fill sets every exported field of the value v points to, recursively,
// to a value that is not the zero value: strings, numbers, times, and
// slices of one element.
func fill(t *testing.T, v reflect.Value, n *int) {
	t.Helper()
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("value %d", *n))
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(int64(*n))
	case reflect.Uint64, reflect.Uint32, reflect.Uint:
		v.SetUint(uint64(*n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(t, s.Index(0), n)
		v.Set(s)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, *n, time.UTC)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(t, v.Field(i), n)
			}
		}
	default:
		t.Fatalf("fill: no value for a field of kind %s (%s): teach this test", v.Kind(), v.Type())
	}
}

// TestEveryMessageFieldRoundTrips stores a chatring.Message whose every
// exported field is set — fields added to Message later included, such as
// tool calls — through append.lua on a real Redis, reads it back and
// decodes it: the storage format carries each field under its JSON name
// without a change in this package. (No validation runs here: the store's
// own tests cover what Append accepts.)
func TestEveryMessageFieldRoundTrips(t *testing.T) {
	s, client := serverStore(t)
	var m chatring.Message
	n := 0
	fill(t, reflect.ValueOf(&m).Elem(), &n)
	m.Seq = 0
	body, err := encodeMessage(m)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := appendScript.Run(ctx, client, s.keys("conv"), body, idempotencyToken(""), "20", "60000", FormatVersion, "128").Result(); err != nil {
		t.Fatal(err)
	}
	msgs, _, _ := s.Keys("conv")
	stored, err := client.LIndex(ctx, msgs, 0).Result()
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeMessage("test", stored)
	if err != nil {
		t.Fatal(err)
	}
	m.Seq = 1
	if diff := cmp.Diff(m, got); diff != "" {
		t.Errorf("a message with every field set did not round-trip (-sent +stored):\n%s\nstored: %s", diff, stored)
	}
}

// serverStore returns a Store with the default Config on a redis-server of
// its own, and the store's client.
func serverStore(t *testing.T) (*Store, *redis.Client) {
	t.Helper()
	return serverStoreWith(t, chatring.Config{})
}

// serverStoreWith is serverStore with cfg and opts.
func serverStoreWith(t *testing.T, cfg chatring.Config, opts ...Option) (*Store, *redis.Client) {
	t.Helper()
	server := redistest.NewServer(t)
	client := redis.NewClient(&redis.Options{Addr: server.Addr})
	t.Cleanup(func() { client.Close() })
	return storeOn(t, client, cfg, opts...), client
}
