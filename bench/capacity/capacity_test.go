package capacity

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// threshold is a fake probe: values up to knee pass.
func threshold(knee float64, seen *[]float64) Prober {
	return func(_ context.Context, v float64) (Outcome, error) {
		*seen = append(*seen, v)
		if v <= knee {
			return Pass, nil
		}
		return Fail, nil
	}
}

func TestSearchFindsAKnownKnee(t *testing.T) {
	for _, knee := range []float64{15, 30, 47.3, 99, 1234} {
		var seen []float64
		r, err := Search(context.Background(), Spec{Axis: MsgRate, From: 1, To: 10000, Precision: 0.05}, threshold(knee, &seen))
		if err != nil {
			t.Fatal(err)
		}
		if r.Stop != Knee || !r.HasPass || !r.HasFail || r.Pass > knee || r.Fail <= knee || r.Fail-r.Pass > 0.05*r.Pass {
			t.Fatalf("knee %g: %+v after %v", knee, r, seen)
		}
		// Doubling from 1, then bisecting: a few probes, not a sweep.
		if len(seen) > 20 {
			t.Fatalf("knee %g: %d probes", knee, len(seen))
		}
		for i := 1; i < 4 && i < len(seen); i++ {
			if seen[i] != 2*seen[i-1] && seen[i-1] <= knee {
				t.Fatalf("knee %g: the first phase grew %v", knee, seen)
			}
		}
	}
}

func TestSearchWholeConnections(t *testing.T) {
	var seen []float64
	r, err := Search(context.Background(), Spec{Axis: Conns, From: 10, To: 5000, Precision: 0.001}, threshold(777, &seen))
	if err != nil {
		t.Fatal(err)
	}
	// Narrower than one connection is impossible: it stops at 777 and 778.
	if r.Stop != Knee || r.Pass != 777 || r.Fail != 778 {
		t.Fatalf("%+v after %v", r, seen)
	}
	for _, v := range seen {
		if v != float64(int(v)) {
			t.Fatalf("probed %g connections", v)
		}
	}
}

// TestSearchNoisyProbes: a probe that passes a little above the knee or
// fails a little below it (a noisy machine) still ends near the knee.
func TestSearchNoisyProbes(t *testing.T) {
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 7))
		const knee, noise = 3000.0, 0.03
		probe := func(_ context.Context, v float64) (Outcome, error) {
			if v <= knee*(1+noise*(2*rng.Float64()-1)) {
				return Pass, nil
			}
			return Fail, nil
		}
		r, err := Search(context.Background(), Spec{Axis: MsgRate, From: 100, To: 100000, Precision: 0.05}, probe)
		if err != nil {
			t.Fatal(err)
		}
		if r.Stop != Knee || r.Pass < knee*(1-noise)*(1-0.05) || r.Fail > knee*(1+noise)*(1+0.05) {
			t.Fatalf("seed %d: %+v, knee %g ± %g%%", seed, r, knee, 100*noise)
		}
	}
}

func TestSearchEnds(t *testing.T) {
	var seen []float64
	r, _ := Search(context.Background(), Spec{Axis: MsgRate, From: 1, To: 50, Precision: 0.05}, threshold(1e9, &seen))
	if r.Stop != HoldsTo || r.Pass != 50 || r.HasFail || seen[len(seen)-1] != 50 {
		t.Fatalf("holds to: %+v after %v", r, seen)
	}
	seen = nil
	r, _ = Search(context.Background(), Spec{Axis: MsgRate, From: 10, To: 50, Precision: 0.05}, threshold(1, &seen))
	if r.Stop != FailsAtFrom || r.HasPass || len(seen) != 1 {
		t.Fatalf("fails at from: %+v after %v", r, seen)
	}
	limit := func(_ context.Context, v float64) (Outcome, error) {
		if v >= 8 {
			return Limit, nil
		}
		return Pass, nil
	}
	r, _ = Search(context.Background(), Spec{Axis: MsgRate, From: 1, To: 100, Precision: 0.05}, limit)
	if r.Stop != Generator || r.Pass != 4 || len(r.Steps) != 4 {
		t.Fatalf("generator: %+v", r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	interrupted := func(ctx context.Context, v float64) (Outcome, error) {
		if calls++; calls == 3 {
			cancel()
			return Pass, ctx.Err()
		}
		return Pass, nil
	}
	r, err := Search(ctx, Spec{Axis: MsgRate, From: 1, To: 100, Precision: 0.05}, interrupted)
	if err != nil || r.Stop != Interrupted || len(r.Steps) != 2 || r.Pass != 2 {
		t.Fatalf("interrupted: %+v %v", r, err)
	}
	boom := errors.New("boom")
	r, err = Search(context.Background(), Spec{Axis: MsgRate, From: 1, To: 100, Precision: 0.05}, func(context.Context, float64) (Outcome, error) { return Pass, boom })
	if !errors.Is(err, boom) || r.Stop != Error {
		t.Fatalf("error: %+v %v", r, err)
	}
}

func TestSpecValidate(t *testing.T) {
	for spec, want := range map[Spec]string{
		{Axis: "size", From: 1, To: 2, Precision: 0.1}:             "not one of msg-rate, conns, connect-rate",
		{Axis: MsgRate, From: 0, To: 2, Precision: 0.1}:            "--from must be above 0",
		{Axis: MsgRate, From: 5, To: 2, Precision: 0.1}:            "above --to",
		{Axis: MsgRate, From: 1, To: 2, Precision: 0}:              "--precision",
		{Axis: MsgRate, From: 1, To: 2, Precision: 0.1, Growth: 1}: "--growth",
		{Axis: Conns, From: 1.5, To: 20, Precision: 0.1}:           "whole numbers",
	} {
		if err := spec.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: %v, want %q", spec, err, want)
		}
	}
}
