package peers

import "github.com/chatring/chatring/bench/internal/workload"

// Contenders are the peers as rows of a benchmark table, after chatring's
// own backends (workload.Backends) in every run.
var Contenders = []workload.Contender{
	{Backend: "slicering", New: func(c int) workload.Ring { return NewSliceRing(c) }},
	{Backend: "langchaingo", New: func(c int) workload.Ring { return NewLangchainWindow(c) }},
	{Backend: "diodes", New: func(c int) workload.Ring { return NewDiode(c) }, AppendOnly: true},
}
