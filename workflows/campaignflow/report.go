package campaignflow

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/genesis-sci/genesis/agents"
	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/workflows/activities"
	"github.com/genesis-sci/genesis/workflows/campaign"
)

// WriteReportName is the report activity's name, as recorded in histories.
const WriteReportName = "WriteReport"

// Reports is the activity set that needs the data directory: a finished
// campaign's report.md and result.json.
type Reports struct {
	cat     *challenges.Catalog
	dataDir string
}

// NewReports returns the set; with no data directory it writes nothing.
func NewReports(cat *challenges.Catalog, dataDir string) *Reports {
	return &Reports{cat: cat, dataDir: dataDir}
}

// Register registers the set's activity under its name.
func (s *Reports) Register(r worker.ActivityRegistry) {
	r.RegisterActivityWithOptions(s.WriteReport, activity.RegisterOptions{Name: WriteReportName})
}

// ReportInput is what the report is written from.
type ReportInput struct {
	Result    campaign.CampaignResult `json:"result"`
	State     campaign.CampaignState  `json:"state"`
	Challenge string                  `json:"challenge"`
}

// WriteReport writes report.md and result.json under the data directory and
// returns the report's path.
func (s *Reports) WriteReport(_ context.Context, in ReportInput) (string, error) {
	if s.dataDir == "" {
		return "", nil
	}
	c, err := s.cat.Get(in.Challenge)
	if err != nil {
		return "", temporal.NewNonRetryableApplicationError(err.Error(), activities.ErrUnknownChallenge, nil)
	}
	dir := filepath.Join(s.dataDir, "campaigns", agents.PathSafe(in.Result.CampaignID))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	md := renderReport(c, in)
	if err := writeAtomic(filepath.Join(dir, "report.md"), []byte(md)); err != nil {
		return "", err
	}
	js, _ := json.MarshalIndent(map[string]any{"result": in.Result, "experiments": in.State.Experiments, "simulations": in.State.Sims,
		"findings": in.State.Findings, "events": in.State.Events}, "", "  ")
	if err := writeAtomic(filepath.Join(dir, "result.json"), js); err != nil {
		return "", err
	}
	return filepath.Join(dir, "report.md"), nil
}

func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func renderReport(c *challenges.Challenge, in ReportInput) string {
	r := in.Result
	var b strings.Builder
	o := c.Primary()
	fmt.Fprintf(&b, "# Campaign %s\n\n", r.CampaignID)
	fmt.Fprintf(&b, "- Challenge: **%s** (`%s`), %s %s (%s)\n", c.Title, c.ID, o.Direction, o.Name, o.Unit)
	fmt.Fprintf(&b, "- Model: `%s`\n- Stopped: %s\n", r.Model, r.StopReason)
	fmt.Fprintf(&b, "- Lab experiments: %d (%d refused or failed), simulations: %d, iterations: %d\n", len(r.Experiments), r.Refused, r.Simulations, r.Iterations)
	fmt.Fprintf(&b, "- Model calls: %d, tokens: %d, repaired replies: %d, fallbacks: %v\n", r.ModelCalls, r.Tokens, r.Repairs, r.Fallbacks)
	if r.Best != nil {
		fmt.Fprintf(&b, "- Best: %s = %.4g %s at `%s` (lab run %s, iteration %d)\n", o.Name, r.Best.Value, o.Unit, agents.PointJSON(c, in.bestPoint()), r.Best.RunID, r.Best.Iteration)
	}
	top := c.TopSet()
	found := 0
	inTop := make([]bool, len(in.State.Experiments))
	for i, e := range in.State.Experiments {
		inTop[i] = c.InTop(e.Point)
		if inTop[i] {
			found++
		}
	}
	if c.Finite() {
		fmt.Fprintf(&b, "- Dataset best: %.4g; top-%g%% members found: %d of %d\n\n", c.BestValue(), 100*c.Scoring.TopFraction, found, len(top))
	} else {
		fmt.Fprintf(&b, "- Dataset best: %.4g; experiments at or above the measured top-%g%% threshold (by the emulator's noise-free value): %d\n\n", c.BestValue(), 100*c.Scoring.TopFraction, found)
	}
	b.WriteString("## Experiments\n\n| # | iteration | lab run | origin | point |")
	for _, o := range c.Objectives {
		b.WriteString(" " + o.Name + " |")
	}
	b.WriteString(" top set |\n|---|---|---|---|---|" + strings.Repeat("---|", len(c.Objectives)) + "---|\n")
	for i, e := range in.State.Experiments {
		fmt.Fprintf(&b, "| %d | %d | %s | %s | `%s` |", i+1, e.Iteration, e.Ref, e.Origin, agents.PointJSON(c, e.Point))
		for _, v := range e.Values {
			fmt.Fprintf(&b, " %.4g |", v)
		}
		fmt.Fprintf(&b, " %v |\n", inTop[i])
	}
	if len(in.State.Findings) > 0 {
		b.WriteString("\n## Findings\n\n")
		for _, f := range in.State.Findings {
			fmt.Fprintf(&b, "- %s\n", strings.ReplaceAll(f, "\n", " "))
		}
	}
	b.WriteString("\n## Timeline\n\n")
	for _, e := range in.State.Events {
		fmt.Fprintf(&b, "- it%d %s **%s** %s\n", e.Iteration, e.Agent, e.Action, strings.ReplaceAll(e.Detail, "\n", " "))
	}
	return b.String()
}

func (in ReportInput) bestPoint() challenges.Point {
	for _, e := range in.State.Experiments {
		if in.Result.Best != nil && e.Ref == in.Result.Best.RunID {
			return e.Point
		}
	}
	return nil
}
