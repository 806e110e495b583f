// Package cputime reads this process's CPU time, which the benchmarks report beside wall
// time: on a machine shared with other work the other load inflates wall time, much less
// CPU time, so old and new code are compared by CPU time per unit of work.
package cputime
