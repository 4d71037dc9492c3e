package main

import (
	"context"
	"os"
	"testing"
	"time"
)

// tickerKinds builds each pollTicker implementation.
var tickerKinds = map[string]func(ctx context.Context, interval time.Duration) (pollTicker, error){
	"timerfd": func(ctx context.Context, interval time.Duration) (pollTicker, error) {
		return newTimerfdTicker(ctx, interval)
	},
	"time.Ticker": func(_ context.Context, interval time.Duration) (pollTicker, error) {
		return newGoTicker(interval), nil
	},
}

func TestPollTickerIsTimerfdHere(t *testing.T) {
	t.Parallel()
	tk := newPollTicker(context.Background(), time.Second, discardLogger())
	defer tk.stop()
	if _, ok := tk.(*timerfdTicker); !ok {
		t.Fatalf("newPollTicker = %T, want the timerfd ticker on Linux", tk)
	}
}

// waitResult runs tk.wait(ctx) and returns its result, failing the test if it
// does not return within testTimeout.
func waitResult(t *testing.T, tk pollTicker, ctx context.Context) bool {
	t.Helper()
	res := make(chan bool, 1)
	go func() { res <- tk.wait(ctx) }()
	select {
	case ok := <-res:
		return ok
	case <-time.After(testTimeout):
		t.Fatal("wait did not return")
		return false
	}
}

func TestPollTickerTicks(t *testing.T) {
	t.Parallel()
	for name, newTicker := range tickerKinds {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			tk, err := newTicker(ctx, 5*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			defer tk.stop()
			for i := 0; i < 5; i++ {
				if !waitResult(t, tk, ctx) {
					t.Fatalf("tick %d: wait = false with ctx live", i)
				}
			}
		})
	}
}

func TestPollTickerCancelEndsWait(t *testing.T) {
	t.Parallel()
	for name, newTicker := range tickerKinds {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			tk, err := newTicker(ctx, time.Hour) // no tick comes
			if err != nil {
				t.Fatal(err)
			}
			defer tk.stop()
			res := make(chan bool, 1)
			go func() { res <- tk.wait(ctx) }()
			time.Sleep(20 * time.Millisecond) // let the wait start; not needed for correctness
			cancel()
			select {
			case ok := <-res:
				if ok {
					t.Error("wait = true after cancel")
				}
			case <-time.After(testTimeout):
				t.Fatal("cancel did not end the wait")
			}
			if waitResult(t, tk, ctx) {
				t.Error("wait after cancel = true")
			}
		})
	}
}

func TestPollTickerStopReleasesDescriptor(t *testing.T) {
	count := func() int {
		fds, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(fds)
	}
	before := count()
	for i := 0; i < 20; i++ {
		tk, err := newTimerfdTicker(context.Background(), time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		tk.wait(context.Background())
		tk.stop()
	}
	if after := count(); after > before {
		t.Errorf("%d descriptors before 20 tickers, %d after", before, after)
	}
}
