package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestAfter(t *testing.T) {
	now := time.Date(2026, 3, 16, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"7", 7 * time.Second},
		{" 30 ", 30 * time.Second},
		{"-5", 0},
		{"soon", 0},
		{"Mon, 16 Mar 2026 10:01:30 GMT", 90 * time.Second},
		{" Mon, 16 Mar 2026 10:00:05 GMT ", 5 * time.Second},
		{"Mon, 16 Mar 2026 10:00:00 GMT", 0},
		{"Mon, 16 Mar 2026 09:00:00 GMT", 0},
	}
	for _, tc := range tests {
		if got := After(tc.in, now); got != tc.want {
			t.Errorf("After(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestSleep(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		d    time.Duration
		want error
	}{
		{"waits", context.Background(), time.Millisecond, nil},
		{"nothing to wait", context.Background(), 0, nil},
		{"ended before", cancelled, time.Hour, context.Canceled},
		{"ended, nothing to wait", cancelled, -time.Second, context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			err := Sleep(tc.ctx, tc.d)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("Sleep = %v, want %v", err, tc.want)
			}
			if tc.want == nil && time.Since(start) < tc.d {
				t.Fatalf("returned after %v, before %v", time.Since(start), tc.d)
			}
			if tc.want != nil && time.Since(start) > time.Minute {
				t.Fatal("did not return when the context had ended")
			}
		})
	}
}
