package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBinariesLeaveEvaluationOut keeps the scenario generator, the quality
// harness and the baselines out of the three production binaries.
func TestBinariesLeaveEvaluationOut(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../cmd/collect", "../cmd/detect", "../cmd/cleanup").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps printed %d packages, want the binaries' whole graph", len(deps))
	}
	for _, p := range deps {
		if strings.HasPrefix(p, "portwatch/internal/eval") {
			t.Errorf("a production binary links %s", p)
		}
	}
}
