package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"
	"golang.org/x/sync/errgroup"

	"github.com/genesis-sci/genesis/workflows/campaign"
)

// StrategyError is a strategy or optimiser setting that a campaign start
// refuses: Field is its name in the start request (strategy, acquisition,
// init or batch).
type StrategyError struct {
	Field string
	Err   error
}

func (e *StrategyError) Error() string { return e.Err.Error() }
func (e *StrategyError) Unwrap() error { return e.Err }

// CheckStrategy normalises (trims, lower-cases) and checks a campaign's
// strategy and optimiser settings before the campaign starts, so a bad
// value is refused at the door instead of failing the workflow. The rules
// are the workflow's own (campaign.Strategies, CampaignInput.ValidateSearch),
// applied one field at a time so the error names the field. On top of them,
// a setting the strategy does not use is refused rather than silently
// dropped: acquisition and batch steer only bo (the agents pick EI or UCB
// per plan and size their own batches); init is the optimiser's start
// design, used by bo and by the suggestions the agents see (random and
// agents-noopt draw uniform points).
func CheckStrategy(in *campaign.CampaignInput) error {
	in.Strategy = strings.ToLower(strings.TrimSpace(in.Strategy))
	in.Acquisition = strings.ToLower(strings.TrimSpace(in.Acquisition))
	in.Init = strings.ToLower(strings.TrimSpace(in.Init))
	strategy := in.Strategy
	if strategy == "" {
		strategy = campaign.StrategyAgents
	}
	if !slices.Contains(campaign.Strategies, strategy) {
		return &StrategyError{"strategy", fmt.Errorf("strategy %q: want one of %s (default agents)", in.Strategy, strings.Join(campaign.Strategies, ", "))}
	}
	for _, f := range []struct {
		name    string
		one     campaign.CampaignInput
		set     bool
		applies []string
		why     string
	}{
		{"acquisition", campaign.CampaignInput{Acquisition: in.Acquisition}, in.Acquisition != "", []string{campaign.StrategyBO},
			"the agents pick EI or UCB per plan; random and agents-noopt use none"},
		{"init", campaign.CampaignInput{Init: in.Init}, in.Init != "", []string{campaign.StrategyBO, campaign.StrategyAgents},
			"random and agents-noopt draw uniform points, with no start design"},
		{"batch", campaign.CampaignInput{Batch: in.Batch}, in.Batch != 0, []string{campaign.StrategyBO},
			"the agents' plan sets how many lab runs each iteration makes"},
	} {
		if err := f.one.ValidateSearch(); err != nil {
			return &StrategyError{f.name, err}
		}
		if f.set && !slices.Contains(f.applies, strategy) {
			return &StrategyError{f.name, fmt.Errorf("%s applies only to strategy %s, not %s (%s): leave it out or choose strategy bo",
				f.name, strings.Join(f.applies, " or "), strategy, f.why)}
		}
	}
	// Rules that span fields, and every number's bounds and the model
	// spec (CampaignInput.Validate), with the field they name.
	if err := in.Validate(); err != nil {
		field := "strategy"
		if fe := (*campaign.FieldError)(nil); errors.As(err, &fe) {
			field = fe.Field
		}
		return &StrategyError{field, err}
	}
	return nil
}

// CampaignSettings is how a campaign chooses experiments. For bo the
// optimiser's settings are shown as they take effect (defaults filled in,
// init as KIND:SIZE); for agents, init only when it was set.
type CampaignSettings struct {
	Strategy    string `json:"strategy,omitempty"`
	Acquisition string `json:"acquisition,omitempty"`
	Init        string `json:"init,omitempty"`
	Batch       int    `json:"batch,omitempty"`
}

// settingsFrom describes a campaign's input, with the workflow's own
// defaults and start design (as given when the challenge is no longer in
// the catalog).
func (s *Server) settingsFrom(in campaign.CampaignInput) CampaignSettings {
	c, err := s.Catalog.Get(in.Challenge)
	if err != nil {
		return CampaignSettings{Strategy: cmp.Or(in.Strategy, campaign.StrategyAgents), Acquisition: in.Acquisition, Init: in.Init, Batch: in.Batch}
	}
	in.ApplyDefaults(c.Budget)
	out := CampaignSettings{Strategy: in.Strategy}
	n := len(c.Parameters)
	switch {
	case in.Strategy == campaign.StrategyBO:
		_, acq, _, _, start, size := campaign.ClassicalPlan(in, 0, n, false, func(string) bool { return true })
		out.Acquisition, out.Init, out.Batch = acq, fmt.Sprintf("%s:%d", start, size), max(in.Batch, 1)
	case in.Strategy == campaign.StrategyAgents && in.Init != "":
		start, size := in.StartDesign(n)
		out.Init = fmt.Sprintf("%s:%d", start, size)
	}
	return out
}

// errNotCampaign: the workflow is not a campaign.
var errNotCampaign = errors.New("not a campaign workflow")

const (
	// maxSettingsCache bounds the cached settings; entries are cheap to
	// refetch.
	maxSettingsCache = 5000
	// settingsTTL is how long the settings of a campaign asked for by ID
	// alone are reused: its latest run could be replaced by a new campaign
	// under the same ID (a portfolio started again under its old ID).
	settingsTTL = time.Minute
)

type cachedSettings struct {
	cs CampaignSettings
	at time.Time
}

// settings returns how campaign id chooses experiments, from the start
// input of run runID ("" for the latest run). A run's input never
// changes, so settings of a named run are cached for good, those of the
// latest run for settingsTTL. A workflow that is not a campaign has none.
func (s *Server) settings(ctx context.Context, id, runID string) (CampaignSettings, error) {
	key := "id\x00" + id
	if runID != "" {
		key = "run\x00" + runID
	}
	s.cacheMu.Lock()
	if c, ok := s.settingsCache[key]; ok && (runID != "" || time.Since(c.at) < settingsTTL) {
		s.cacheMu.Unlock()
		return c.cs, nil
	}
	s.cacheMu.Unlock()
	v, err, _ := s.settingsFlight.Do(key, func() (any, error) {
		// One caller's hang-up must not fail the others waiting here.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		cs, err := s.readSettings(ctx, id, runID)
		if err != nil && !errors.Is(err, errNotCampaign) {
			return nil, err
		}
		s.cacheMu.Lock()
		if s.settingsCache == nil || len(s.settingsCache) >= maxSettingsCache {
			s.settingsCache = map[string]cachedSettings{}
		}
		s.settingsCache[key] = cachedSettings{cs, time.Now()}
		s.cacheMu.Unlock()
		return cs, nil
	})
	if err != nil {
		return CampaignSettings{}, err
	}
	return v.(CampaignSettings), nil
}

// readSettings reads the settings from the run's first history event.
func (s *Server) readSettings(ctx context.Context, id, runID string) (CampaignSettings, error) {
	it := s.Temporal.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	if !it.HasNext() {
		return CampaignSettings{}, fmt.Errorf("workflow %s has no history", id)
	}
	ev, err := it.Next()
	if err != nil {
		return CampaignSettings{}, err
	}
	attrs := ev.GetWorkflowExecutionStartedEventAttributes()
	if attrs == nil || attrs.GetWorkflowType().GetName() != campaign.CampaignWorkflowName {
		return CampaignSettings{}, errNotCampaign
	}
	var in campaign.CampaignInput
	if err := converter.GetDefaultDataConverter().FromPayloads(attrs.GetInput(), &in); err != nil {
		return CampaignSettings{}, fmt.Errorf("reading the input of campaign %s: %w", id, err)
	}
	return s.settingsFrom(in), nil
}

// campaignStatus adds the campaign's settings to its status. Settings
// that cannot be read now (a passing Temporal error) are left out: the
// status is still worth showing.
func (s *Server) campaignStatus(ctx context.Context, id string, st campaign.Status) CampaignStatus {
	cs, _ := s.settings(ctx, id, "")
	return CampaignStatus{Status: st, Strategy: cs.Strategy, Acquisition: cs.Acquisition, Init: cs.Init, Batch: cs.Batch}
}

// addStrategies fills in the strategy of listed campaigns, reading at most
// a few histories at a time (each run's once, then cached).
func (s *Server) addStrategies(ctx context.Context, list []CampaignSummary) {
	var g errgroup.Group
	g.SetLimit(4)
	for i := range list {
		g.Go(func() error {
			if cs, err := s.settings(ctx, list[i].ID, list[i].RunID); err == nil {
				list[i].Strategy = cs.Strategy
			}
			return nil
		})
	}
	_ = g.Wait()
}
