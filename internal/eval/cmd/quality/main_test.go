package main

import (
	"strings"
	"testing"
)

func TestCheckOnly(t *testing.T) {
	names := []string{"portwatch", "table", "seasonal"}
	tests := []struct {
		only, bad string // bad: the name the error must give; "" for none
	}{
		{"", ""},
		{"portwatch", ""},
		{"table,seasonal", ""},
		{"portwatch,seasonel", `"seasonel"`},
		{"portwatch,", `""`},
	}
	for _, tt := range tests {
		err := checkOnly(tt.only, names)
		switch {
		case tt.bad == "" && err != nil:
			t.Errorf("-only %q: %v, want no error", tt.only, err)
		case tt.bad != "" && (err == nil || !strings.Contains(err.Error(), tt.bad)):
			t.Errorf("-only %q: error %v, want one naming %s", tt.only, err, tt.bad)
		}
	}
}
