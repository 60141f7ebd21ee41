package access

import (
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/postgres"
)

// Run re-checks the decisions served in parts, but every part comes up
// within every RecheckEvery, whatever the relay's tick: the safety net's
// bound holds.
func TestEverySlotIsRecheckedWithinRecheckEvery(t *testing.T) {
	for _, tick := range []time.Duration{100 * time.Millisecond, 500 * time.Millisecond, 700 * time.Millisecond, 2 * time.Second, 20 * time.Second} {
		last := make(map[int]time.Duration) // slot → when it was last re-checked
		done := 0
		for n := range int(4*RecheckEvery/tick) + 2 {
			var slots []int
			slots, done = dueSlots(n, tick, done)
			at := time.Duration(n+1) * tick
			for _, s := range slots {
				last[s] = at
			}
			for s := range recheckSlots {
				if since := at - last[s]; since > RecheckEvery+tick {
					t.Fatalf("tick %s: slot %d last re-checked %s ago at %s, want within %s", tick, s, since, at, RecheckEvery+tick)
				}
			}
		}
	}
}

// Decisions spread over the slots, so that no part holds most of them.
func TestDecisionsSpreadOverTheSlots(t *testing.T) {
	var count [recheckSlots]int
	for u := int64(1); u <= 3000; u++ {
		count[slotOf(postgres.AccessPair{UserID: u, DealID: u + 7})]++
	}
	for s, n := range count {
		if n < 50 || n > 150 {
			t.Errorf("slot %d: %d of 3000 decisions, want about 100", s, n)
		}
	}
}
