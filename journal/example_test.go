package journal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/ireports/ireports/journal"
	"github.com/ireports/ireports/task"
)

// Example shows the calls a coordinator makes: a record before each action it gates, and at
// start-up the jobs to resume.
func Example() {
	ctx := context.Background()
	dataDir, _ := os.MkdirTemp("", "journal-example-")
	defer os.RemoveAll(dataDir)
	dir, err := journal.Open(ctx, journal.Config{Location: dataDir})
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)

	// Submit: the spec is durable before the job is planned.
	j, _ := dir.Create(ctx, "normalize-1")
	j.Append(ctx, &journal.Spec{Job: "normalize-1", Name: "normalize", Submitted: now, Spec: json.RawMessage(`{"name":"normalize"}`)}, journal.Sync)
	j.Append(ctx, &journal.Plan{Maps: 2, Reducers: 1, Plan: json.RawMessage(`{}`)}, journal.Sync)
	j.Append(ctx, &journal.Phase{State: "map", At: now}, journal.Sync)
	// An accepted map task: losing this record costs a re-run, so it is batched.
	j.Append(ctx, &journal.TaskAccepted{Worker: "w1", Map: &task.MapResult{Index: 0, Attempt: 1}}, journal.Batched)
	j.Close(ctx) // the coordinator dies here

	// Start-up: every journal is a job to resume (or to remove, if it finished).
	ids, _ := dir.Jobs(ctx)
	for _, id := range ids {
		j, recs, err := dir.Resume(ctx, id)
		if err != nil {
			fmt.Println("cannot resume", id, err)
			continue
		}
		for _, r := range recs {
			switch r := r.(type) {
			case *journal.Phase:
				fmt.Println(id, "was in", r.State)
			case *journal.TaskAccepted:
				kind, index, attempt := r.Task()
				fmt.Printf("%s: %s %d attempt %d is on %s\n", id, kind, index, attempt, r.Worker)
			}
		}
		j.Append(ctx, &journal.Finished{State: "succeeded", At: now}, journal.Sync)
		j.Close(ctx)
		dir.Remove(ctx, id)
	}
	// Output:
	// normalize-1 was in map
	// normalize-1: map 0 attempt 1 is on w1
}
