//go:build !amd64 || purego

package chatring

// blockMasks returns the masks of the 64-byte block blk: on this
// platform, or with the purego build tag, blockMasksGo's.
func blockMasks(blk string) (a, b, ctl uint64, ok bool) {
	return blockMasksGo(blk)
}
