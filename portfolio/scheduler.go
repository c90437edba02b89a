package portfolio

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Request asks for capacity (and the budget that goes with it) before a
// spend. A campaign has at most one request outstanding; Seq numbers them.
type Request struct {
	Campaign string `json:"campaign"`
	Seq      int    `json:"seq"`
	Kind     string `json:"kind"`
	// N is how many units: lab runs, simulation jobs or model calls.
	N int `json:"n"`
	// Points are the lab runs' settings (for the approval policy and the operator).
	Points []map[string]any `json:"points,omitempty"`
	Detail string           `json:"detail,omitempty"`
	At     time.Time        `json:"at"`
	// Approved is set once an operator (or the policy's timeout) approved it.
	Approved string `json:"approved,omitempty"`
	// Release, when set, returns the campaign's previous grant first (one
	// message instead of two).
	Release *Release `json:"release,omitempty"`
}

// Release reports what a grant was really used for.
type Release struct {
	Campaign string `json:"campaign"`
	Seq      int    `json:"seq"`
	Spent    Amount `json:"spent"`
}

// Grant answers a request: N units granted (fewer than asked when capacity
// or budget is short), or none with the reason. Stop tells the campaign its
// budget is spent.
type Grant struct {
	Campaign string `json:"campaign"`
	Seq      int    `json:"seq"`
	N        int    `json:"n"`
	Reason   string `json:"reason,omitempty"`
	Stop     bool   `json:"stop,omitempty"`
}

// Approval is a request waiting for a person.
type Approval struct {
	ID        string    `json:"id"`
	Campaign  string    `json:"campaign"`
	Challenge string    `json:"challenge"`
	Request   Request   `json:"request"`
	Cost      float64   `json:"cost"`
	Reasons   []string  `json:"reasons"`
	Created   time.Time `json:"created"`
	Deadline  time.Time `json:"deadline"`
	// Role is who may decide: operator, or admin once escalated.
	Role      string `json:"role"`
	Escalated bool   `json:"escalated,omitempty"`
}

// Hold is capacity a campaign holds while it spends.
type Hold struct {
	Seq      int    `json:"seq"`
	Kind     string `json:"kind"`
	N        int    `json:"n"`
	Reserved Amount `json:"reserved"`
}

// Entry is one campaign's line in the ledger and the schedule.
type Entry struct {
	ID           string     `json:"id"`
	Challenge    string     `json:"challenge"`
	Strategy     string     `json:"strategy"`
	Priority     int        `json:"priority"`
	BasePriority int        `json:"base_priority"`
	Budget       Amount     `json:"budget"`
	Spent        Amount     `json:"spent"`
	Reserved     Amount     `json:"reserved"`
	LabCost      float64    `json:"lab_cost"`
	Routine      Routine    `json:"routine,omitempty"`
	Deadline     *time.Time `json:"deadline,omitempty"`
	// Pass is the stride scheduler's virtual time per kind: each grant
	// adds units/priority, and the lowest pass is served first.
	Pass    map[string]float64 `json:"pass"`
	Holding []Hold             `json:"holding,omitempty"`
	Grants  int                `json:"grants"`
	// Done is set when the campaign ended; Reason says why.
	Done   bool   `json:"done"`
	Reason string `json:"reason,omitempty"`
	// Progress as the campaign reports it.
	Iteration int      `json:"iteration"`
	Best      *float64 `json:"best,omitempty"`
	Stale     int      `json:"stale"`
	Repeats   int      `json:"repeats"`
	// Flag is set while the campaign is stalled; FlagStale/FlagRepeats
	// are the counts when it was last handled.
	Flag        string `json:"flag,omitempty"`
	FlagStale   int    `json:"flag_stale,omitempty"`
	FlagRepeats int    `json:"flag_repeats,omitempty"`
	Replans     int    `json:"replans,omitempty"`
}

// Used is what the campaign spent or holds in reserve.
func (e *Entry) Used() Amount { return e.Spent.Add(e.Reserved) }

// Action is something the workflow must tell a campaign.
type Action struct {
	Campaign string `json:"campaign"`
	// Kind: replan, stop, or budget (Budget is its new total).
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
	Budget Amount `json:"budget,omitzero"`
}

// Record is one line of the portfolio's log: reallocations, stalls,
// approvals, deadlines, denials.
type Record struct {
	Seq      int       `json:"seq"`
	Time     time.Time `json:"time"`
	Kind     string    `json:"kind"`
	Campaign string    `json:"campaign,omitempty"`
	To       string    `json:"to,omitempty"`
	Amount   Amount    `json:"amount,omitzero"`
	Detail   string    `json:"detail"`
}

// Record kinds.
const (
	RecReallocation = "reallocation"
	RecStall        = "stall"
	RecApproval     = "approval"
	RecDenied       = "denied"
	RecDone         = "done"
	RecOverrun      = "overrun"
	RecPaused       = "paused"
	RecResumed      = "resumed"
)

const maxLog = 400

// Scheduler is the portfolio's whole state: the ledger, the queue, the
// approvals waiting and the log. It is deterministic (no maps iterated, no
// clocks read) so a workflow can hold it, and JSON-serialisable so it can
// continue as new.
type Scheduler struct {
	Spec      Spec       `json:"spec"`
	Campaigns []*Entry   `json:"campaigns"`
	Queue     []Request  `json:"queue"`
	Pending   []Approval `json:"pending"`
	InUse     Capacity   `json:"in_use"`
	// Pool is unspent budget handed back by finished campaigns and not yet
	// given to another.
	Pool Amount `json:"pool"`
	// Log holds the latest records; Reallocations every reallocation.
	Log           []Record `json:"log"`
	Reallocations []Record `json:"reallocations"`
	Seq           int      `json:"seq"`
	Grants        int      `json:"grants"`
	// Paused, when set, says who paused the portfolio: nothing is granted
	// until it resumes (what was granted runs on).
	Paused string `json:"paused,omitempty"`
}

// New starts a schedule for the spec's campaigns; ids are their workflow IDs.
func New(spec Spec, ids []string) *Scheduler {
	s := &Scheduler{Spec: spec}
	for i, c := range spec.Campaigns {
		s.Campaigns = append(s.Campaigns, &Entry{ID: ids[i], Challenge: c.Challenge, Strategy: c.Strategy, Priority: c.Priority,
			BasePriority: c.Priority, Budget: c.Budget, LabCost: c.LabCost, Routine: c.Routine, Deadline: c.Deadline,
			Pass: map[string]float64{}})
	}
	return s
}

// Entry returns the campaign with this ID.
func (s *Scheduler) Entry(id string) *Entry {
	for _, e := range s.Campaigns {
		if e.ID == id {
			return e
		}
	}
	return nil
}

// Totals is the whole portfolio's spend and reservations.
func (s *Scheduler) Totals() (spent, reserved Amount) {
	for _, e := range s.Campaigns {
		spent, reserved = spent.Add(e.Spent), reserved.Add(e.Reserved)
	}
	return spent, reserved
}

// unit is what one unit of a kind reserves.
func (s *Scheduler) unit(e *Entry, kind string) Amount {
	switch kind {
	case Lab:
		return Amount{LabRuns: 1, Cost: e.LabCost}
	case HPC:
		return Amount{Simulations: 1, NodeHours: SimJobLimit.Hours()}
	default:
		return Amount{Tokens: s.Spec.TokenReserve}
	}
}

// fits is how many units fit under limit given used, for a unit (0 in the
// limit means no limit).
func fits(limit, used, unit Amount) int {
	n := math.MaxInt
	l, u, per := limit.vec(), used.vec(), unit.vec()
	for i := range l {
		if l[i] > 0 && per[i] > 0 {
			n = min(n, int(math.Floor((l[i]-u[i])/per[i]+1e-9)))
		}
	}
	return max(n, 0)
}

// room is how many units of kind the campaign may still reserve; with
// counting false, reservations held by others are ignored (they may come back).
func (s *Scheduler) room(e *Entry, kind string, counting bool) int {
	u := s.unit(e, kind)
	n := fits(e.Budget, e.Used(), u)
	spent, reserved := s.Totals()
	used := spent
	if counting {
		used = used.Add(reserved)
	} else {
		used = used.Add(e.Reserved)
	}
	return min(n, fits(s.Spec.Budget, used, u))
}

// spentWhat names the budget that stops the campaign.
func (s *Scheduler) spentWhat(e *Entry, kind string) string {
	u := s.unit(e, kind)
	if fits(e.Budget, e.Used(), u) == 0 {
		return fmt.Sprintf("its budget is spent (%s used of %s)", e.Used(), e.Budget)
	}
	spent, _ := s.Totals()
	return fmt.Sprintf("the portfolio's budget is spent (%s used of %s)", spent, s.Spec.Budget)
}

func (s *Scheduler) log(now time.Time, r Record) {
	s.Seq++
	r.Seq, r.Time = s.Seq, now
	s.Log = append(s.Log, r)
	if r.Kind == RecReallocation {
		s.Reallocations = append(s.Reallocations, r)
	}
	if len(s.Log) > maxLog {
		s.Log = s.Log[len(s.Log)-maxLog:]
	}
}

// Submit takes a request. It returns the grants that can be sent now (this
// one or others), and the approval when the request must wait for a person.
func (s *Scheduler) Submit(r Request, now time.Time) ([]Grant, *Approval) {
	var released []Grant
	if r.Release != nil {
		released = s.Release(r.Release.Campaign, r.Release.Seq, r.Release.Spent, now)
		r.Release = nil
	}
	grants, ap := s.submit(r, now)
	return append(released, grants...), ap
}

func (s *Scheduler) submit(r Request, now time.Time) ([]Grant, *Approval) {
	e := s.Entry(r.Campaign)
	switch {
	case e == nil:
		return []Grant{{Campaign: r.Campaign, Seq: r.Seq, Reason: "not a campaign of this portfolio", Stop: true}}, nil
	case e.Done:
		return []Grant{{Campaign: r.Campaign, Seq: r.Seq, Reason: "the campaign has ended", Stop: true}}, nil
	case r.N <= 0:
		return []Grant{{Campaign: r.Campaign, Seq: r.Seq}}, nil
	case !slices.Contains(Kinds, r.Kind):
		return []Grant{{Campaign: r.Campaign, Seq: r.Seq, Reason: fmt.Sprintf("unknown kind %q", r.Kind)}}, nil
	}
	if s.room(e, r.Kind, false) == 0 {
		why := s.spentWhat(e, r.Kind)
		s.log(now, Record{Kind: RecDenied, Campaign: e.ID, Detail: fmt.Sprintf("%d %s: %s", r.N, r.Kind, why)})
		return []Grant{{Campaign: r.Campaign, Seq: r.Seq, Reason: why, Stop: true}}, nil
	}
	if reasons := s.needsApproval(e, r); len(reasons) > 0 {
		s.Seq++
		a := Approval{ID: fmt.Sprintf("a%d", s.Seq), Campaign: e.ID, Challenge: e.Challenge, Request: r, Reasons: reasons,
			Created: now, Deadline: now.Add(s.Spec.Approval.Timeout.Std()), Role: "operator"}
		if r.Kind == Lab {
			a.Cost = float64(r.N) * e.LabCost
		}
		s.Pending = append(s.Pending, a)
		s.log(now, Record{Kind: RecApproval, Campaign: e.ID, Detail: fmt.Sprintf("%s waits for an operator: %s", a.ID, strings.Join(reasons, "; "))})
		return s.Schedule(now), &a
	}
	s.Queue = append(s.Queue, r)
	return s.Schedule(now), nil
}

// needsApproval lists why a request must wait for a person (none: it may go).
func (s *Scheduler) needsApproval(e *Entry, r Request) []string {
	p := s.Spec.Approval
	if r.Approved != "" {
		return nil
	}
	switch r.Kind {
	case HPC:
		if p.Simulations == Review {
			return []string{"the policy reviews every simulation"}
		}
	case Lab:
		var why []string
		switch p.LabRuns {
		case Review:
			why = append(why, "the policy reviews every lab run")
		case AutoIfRoutine:
			for i, pt := range r.Points {
				if out := outside(e.Routine, pt); out != "" {
					why = append(why, fmt.Sprintf("run %d is outside the routine region (%s)", i+1, out))
				}
			}
		}
		if cost := float64(r.N) * e.LabCost; p.MaxAutoCost > 0 && cost > p.MaxAutoCost && p.LabRuns != Review {
			why = append(why, fmt.Sprintf("the batch costs %.3g, above the %.3g limit for automatic approval", cost, p.MaxAutoCost))
		}
		return why
	}
	return nil
}

// outside names the first parameter of pt outside the routine region.
func outside(routine Routine, pt map[string]any) string {
	for _, r := range routine {
		if v, ok := pt[r.Parameter]; ok && !r.Contains(v) {
			return fmt.Sprintf("%s = %v", r.Parameter, v)
		}
	}
	return ""
}

// Pause holds every request from now on: campaigns finish what they were
// granted and then wait. Deadlines and approval timeouts keep running.
func (s *Scheduler) Pause(by string, now time.Time) {
	if s.Paused != "" {
		return
	}
	s.Paused = by
	s.log(now, Record{Kind: RecPaused, Detail: "paused by " + by + ": nothing more is granted until it resumes"})
}

// Resume ends a pause and grants what waited.
func (s *Scheduler) Resume(by string, now time.Time) []Grant {
	if s.Paused == "" {
		return nil
	}
	s.Paused = ""
	s.log(now, Record{Kind: RecResumed, Detail: "resumed by " + by})
	return s.Schedule(now)
}

// Schedule grants what it can: per kind, while capacity is free, the
// waiting request with the lowest pass (then the higher priority, the
// earlier deadline, the earlier request) gets min(asked, free, budget).
// A paused portfolio grants nothing.
func (s *Scheduler) Schedule(now time.Time) []Grant {
	if s.Paused != "" {
		return nil
	}
	var out []Grant
	for _, kind := range Kinds {
		skip := map[string]bool{}
		for {
			free := s.Spec.Capacity.Of(kind) - s.InUse.Of(kind)
			if free <= 0 {
				break
			}
			i := s.next(kind, skip)
			if i < 0 {
				break
			}
			r := s.Queue[i]
			e := s.Entry(r.Campaign)
			n := min(r.N, free, s.room(e, kind, true))
			if n == 0 {
				if s.room(e, kind, false) > 0 {
					skip[r.Campaign] = true // others' reservations may come back: wait
					continue
				}
				s.Queue = slices.Delete(s.Queue, i, i+1)
				why := s.spentWhat(e, kind)
				s.log(now, Record{Kind: RecDenied, Campaign: e.ID, Detail: fmt.Sprintf("%d %s: %s", r.N, kind, why)})
				out = append(out, Grant{Campaign: r.Campaign, Seq: r.Seq, Reason: why, Stop: true})
				continue
			}
			s.Queue = slices.Delete(s.Queue, i, i+1)
			res := s.unit(e, kind).Scale(n)
			e.Reserved = e.Reserved.Add(res)
			e.Holding = append(e.Holding, Hold{Seq: r.Seq, Kind: kind, N: n, Reserved: res})
			e.Pass[kind] += float64(n) / float64(e.Priority)
			e.Grants++
			s.Grants++
			s.use(kind, n)
			out = append(out, Grant{Campaign: r.Campaign, Seq: r.Seq, N: n})
		}
	}
	return out
}

func (s *Scheduler) use(kind string, n int) {
	switch kind {
	case Lab:
		s.InUse.Lab += n
	case HPC:
		s.InUse.HPC += n
	default:
		s.InUse.Model += n
	}
}

// next is the index of the queued request of kind to serve next, or -1.
func (s *Scheduler) next(kind string, skip map[string]bool) int {
	// A campaign's pass never counts below the lowest pass among running
	// campaigns: one that sat idle does not bank credit to monopolise
	// capacity when it returns.
	lo := math.Inf(1)
	for _, o := range s.Campaigns {
		if !o.Done {
			lo = min(lo, o.Pass[kind])
		}
	}
	best := -1
	var be *Entry
	for i, r := range s.Queue {
		if r.Kind != kind || skip[r.Campaign] {
			continue
		}
		e := s.Entry(r.Campaign)
		if best < 0 || before(e, r, be, s.Queue[best], kind, lo) {
			best, be = i, e
		}
	}
	return best
}

// before orders waiting requests: the lower pass, then the higher
// priority, the earlier deadline, the earlier request.
func before(a *Entry, ra Request, b *Entry, rb Request, kind string, lo float64) bool {
	if pa, pb := max(a.Pass[kind], lo), max(b.Pass[kind], lo); pa != pb {
		return pa < pb
	}
	if a.Priority != b.Priority {
		return a.Priority > b.Priority
	}
	if da, db := a.Deadline, b.Deadline; (da == nil) != (db == nil) || (da != nil && !da.Equal(*db)) {
		return db == nil || (da != nil && da.Before(*db))
	}
	return ra.At.Before(rb.At) || (ra.At.Equal(rb.At) && ra.Seq < rb.Seq)
}

// Release returns a grant's capacity and charges what was really spent
// (the reservation is dropped; lab runs cost their campaign's lab_cost
// when the spend names no cost). It returns the grants that now fit.
func (s *Scheduler) Release(campaign string, seq int, actual Amount, now time.Time) []Grant {
	e := s.Entry(campaign)
	if e == nil {
		return nil
	}
	if actual.Cost == 0 {
		actual.Cost = float64(actual.LabRuns) * e.LabCost
	}
	i := slices.IndexFunc(e.Holding, func(h Hold) bool { return h.Seq == seq })
	if i < 0 {
		return nil // released already (a duplicate), or never granted
	}
	h := e.Holding[i]
	e.Holding = slices.Delete(e.Holding, i, i+1)
	e.Reserved = e.Reserved.Sub(h.Reserved)
	e.Spent = e.Spent.Add(actual)
	s.use(h.Kind, -h.N)
	if over := overrun(actual, h.Reserved); over != "" {
		s.log(now, Record{Kind: RecOverrun, Campaign: e.ID, Amount: actual, Detail: fmt.Sprintf("spent more than reserved: %s", over)})
	}
	return s.Schedule(now)
}

func overrun(actual, reserved Amount) string {
	var out []string
	a, r := actual.vec(), reserved.vec()
	for i := range a {
		if a[i] > r[i]+1e-9 {
			out = append(out, fieldNames[i])
		}
	}
	return strings.Join(out, ", ")
}

// Decide applies a person's decision on a pending approval.
func (s *Scheduler) Decide(id string, approve bool, by, reason string, now time.Time) ([]Grant, error) {
	i := slices.IndexFunc(s.Pending, func(a Approval) bool { return a.ID == id })
	if i < 0 {
		return nil, fmt.Errorf("no approval %s is waiting (decided, timed out or never asked)", id)
	}
	return s.resolve(i, approve, by, reason, now), nil
}

func (s *Scheduler) resolve(i int, approve bool, by, reason string, now time.Time) []Grant {
	a := s.Pending[i]
	s.Pending = slices.Delete(s.Pending, i, i+1)
	verb := map[bool]string{true: "approved", false: "rejected"}[approve]
	s.log(now, Record{Kind: RecApproval, Campaign: a.Campaign, Detail: strings.TrimSpace(fmt.Sprintf("%s %s by %s %s", a.ID, verb, by, reason))})
	if !approve {
		return append(s.Schedule(now), Grant{Campaign: a.Campaign, Seq: a.Request.Seq, Reason: strings.TrimSpace("rejected by " + by + " " + reason)})
	}
	r := a.Request
	r.Approved = by
	s.Queue = append(s.Queue, r)
	return s.Schedule(now)
}

// Timeout handles an approval's deadline: escalate it (returned, with its
// new deadline) or apply the policy's default. Nothing happens when it was
// decided or its deadline moved.
func (s *Scheduler) Timeout(id string, now time.Time) ([]Grant, *Approval) {
	i := slices.IndexFunc(s.Pending, func(a Approval) bool { return a.ID == id })
	if i < 0 || now.Before(s.Pending[i].Deadline) {
		return nil, nil
	}
	p := s.Spec.Approval
	a := &s.Pending[i]
	switch {
	case !a.Escalated && p.OnTimeout == Escalate:
		a.Escalated, a.Role = true, "admin"
		a.Deadline = now.Add(p.EscalationTimeout.Std())
		s.log(now, Record{Kind: RecApproval, Campaign: a.Campaign, Detail: fmt.Sprintf("%s timed out after %s: escalated to an admin until %s", a.ID, p.Timeout.Std(), a.Deadline.Format(time.RFC3339))})
		esc := *a
		return nil, &esc
	case !a.Escalated:
		return s.resolve(i, p.OnTimeout == Approve, "policy", "(timed out after "+p.Timeout.Std().String()+")", now), nil
	default:
		return s.resolve(i, p.Default == Approve, "policy", "(escalation timed out; the default applies)", now), nil
	}
}

// Progress is what a campaign reports after each iteration.
type Progress struct {
	Campaign  string   `json:"campaign"`
	Iteration int      `json:"iteration"`
	Best      *float64 `json:"best,omitempty"`
	Stale     int      `json:"stale"`
	Repeats   int      `json:"repeats"`
}

// Report records progress and applies the stall policy.
func (s *Scheduler) Report(p Progress, now time.Time) []Action {
	e := s.Entry(p.Campaign)
	if e == nil || e.Done {
		return nil
	}
	e.Iteration, e.Best, e.Stale, e.Repeats = p.Iteration, p.Best, p.Stale, p.Repeats
	var out []Action
	if p.Stale == 0 && p.Repeats == 0 {
		e.Flag, e.FlagStale, e.FlagRepeats = "", 0, 0
		out = append(out, s.share(now)...)
	}
	st := s.Spec.Stall
	stalled := ""
	switch {
	case st.Patience > 0 && p.Stale >= e.FlagStale+st.Patience:
		stalled = fmt.Sprintf("no improvement in %d iterations", p.Stale)
	case st.Repeats > 0 && p.Repeats >= e.FlagRepeats+st.Repeats:
		stalled = fmt.Sprintf("the agents repeated themselves %d iterations in a row", p.Repeats)
	}
	if stalled == "" {
		return out
	}
	e.Flag, e.FlagStale, e.FlagRepeats = "stalled: "+stalled, p.Stale, p.Repeats
	action := st.Action
	if action == Replan && e.Replans >= st.MaxReplans {
		action = Stop
	}
	switch action {
	case Replan:
		// The campaign restarts its counts when told to re-plan.
		e.Replans++
		e.FlagStale, e.FlagRepeats = 0, 0
		s.log(now, Record{Kind: RecStall, Campaign: e.ID, Detail: fmt.Sprintf("stalled (%s): told to re-plan (%d of %d)", stalled, e.Replans, st.MaxReplans)})
		out = append(out, Action{Campaign: e.ID, Kind: Replan, Reason: "stalled: " + stalled})
	case Deprioritise:
		old := e.Priority
		e.Priority = max(1, e.Priority/2)
		s.log(now, Record{Kind: RecStall, Campaign: e.ID, Detail: fmt.Sprintf("stalled (%s): priority %d → %d", stalled, old, e.Priority)})
	case Stop:
		s.log(now, Record{Kind: RecStall, Campaign: e.ID, Detail: fmt.Sprintf("stalled (%s): stopped", stalled)})
		out = append(out, Action{Campaign: e.ID, Kind: Stop, Reason: "stopped by the portfolio: stalled (" + stalled + ")"})
	}
	return out
}

// Finish records that a campaign ended. Graceful: it released everything
// it spent, so what it still holds was never used; otherwise (it failed or
// was terminated) its reservations are charged, as the spend is unknown.
// Its unspent budget goes to the pool and on to campaigns still improving.
// Returned: grants that now fit, approvals dropped, actions to send.
func (s *Scheduler) Finish(id, reason string, graceful bool, now time.Time) ([]Grant, []string, []Action) {
	e := s.Entry(id)
	if e == nil || e.Done {
		return nil, nil, nil
	}
	e.Done, e.Reason = true, reason
	for _, h := range e.Holding {
		e.Reserved = e.Reserved.Sub(h.Reserved)
		if !graceful {
			e.Spent = e.Spent.Add(h.Reserved)
		}
		s.use(h.Kind, -h.N)
	}
	e.Holding = nil
	s.Queue = slices.DeleteFunc(s.Queue, func(r Request) bool { return r.Campaign == id })
	var dropped []string
	s.Pending = slices.DeleteFunc(s.Pending, func(a Approval) bool {
		if a.Campaign == id {
			dropped = append(dropped, a.ID)
			return true
		}
		return false
	})
	s.log(now, Record{Kind: RecDone, Campaign: id, Amount: e.Spent, Detail: reason})
	var acts []Action
	if *s.Spec.Reallocate {
		left := unspent(e.Budget, e.Spent)
		if !left.Zero() {
			e.Budget = e.Budget.Sub(left)
			s.Pool = s.Pool.Add(left)
			s.log(now, Record{Kind: RecReallocation, Campaign: id, Amount: left, Detail: fmt.Sprintf("%s unspent, returned to the pool (%s)", left, reason)})
			acts = s.share(now)
		}
	}
	return s.Schedule(now), dropped, acts
}

// unspent is the positive part of budget − spent over the limited fields.
func unspent(budget, spent Amount) Amount {
	return zip(budget, spent, func(b, s float64) float64 {
		if b > 0 {
			return max(0, b-s)
		}
		return 0
	})
}

// share gives the pool to the campaigns still improving (not stalled, an
// improvement within the stall patience), highest priority first, in equal
// parts; each gift is logged with its reason. Fields a recipient has no
// limit on are not given (they would change nothing).
func (s *Scheduler) share(now time.Time) []Action {
	if s.Pool.Zero() {
		return nil
	}
	var to []*Entry
	for _, e := range s.Campaigns {
		if !e.Done && e.Flag == "" && e.Stale < max(s.Spec.Stall.Patience, 1) && e.Iteration > 0 {
			to = append(to, e)
		}
	}
	if len(to) == 0 {
		return nil
	}
	sort.SliceStable(to, func(i, j int) bool {
		if to[i].Priority != to[j].Priority {
			return to[i].Priority > to[j].Priority
		}
		return to[i].Stale < to[j].Stale
	})
	pool := s.Pool
	var acts []Action
	for k, e := range to {
		n := len(to) - k
		part := Amount{LabRuns: pool.LabRuns / n, Simulations: pool.Simulations / n, Tokens: pool.Tokens / n,
			NodeHours: pool.NodeHours / float64(n), Cost: pool.Cost / float64(n)}
		if k == 0 { // the remainders go to the first
			part.LabRuns += pool.LabRuns % n
			part.Simulations += pool.Simulations % n
			part.Tokens += pool.Tokens % n
		}
		part = limitedLike(part, e.Budget)
		if e.Strategy == "bo" || e.Strategy == "random" {
			// Classical strategies run no simulations and call no model.
			part.Simulations, part.Tokens, part.NodeHours = 0, 0, 0
		}
		if part.Zero() {
			continue
		}
		pool = pool.Sub(part)
		e.Budget = e.Budget.Add(part)
		s.log(now, Record{Kind: RecReallocation, To: e.ID, Amount: part,
			Detail: fmt.Sprintf("%s given to %s (priority %d, still improving: last improvement %d iteration(s) ago)", part, e.Challenge, e.Priority, e.Stale)})
		acts = append(acts, Action{Campaign: e.ID, Kind: "budget", Budget: e.Budget, Reason: "reallocated: " + part.String()})
	}
	s.Pool = pool
	return acts
}

// limitedLike keeps the fields of a that b limits.
func limitedLike(a, b Amount) Amount {
	return zip(a, b, func(x, limit float64) float64 {
		if limit == 0 {
			return 0
		}
		return x
	})
}

// Units names what a kind's units are.
func Units(kind string) string {
	switch kind {
	case Lab:
		return "lab run(s)"
	case HPC:
		return "simulation job(s)"
	default:
		return "model call(s)"
	}
}

// Waiting says what a campaign waits for, and on whom.
func (s *Scheduler) Waiting(id string) string {
	for _, a := range s.Pending {
		if a.Campaign == id {
			return fmt.Sprintf("an %s's approval of %d %s (%s, until %s)", a.Role, a.Request.N, Units(a.Request.Kind), a.ID, a.Deadline.UTC().Format("15:04:05 UTC"))
		}
	}
	for _, r := range s.Queue {
		if r.Campaign != id {
			continue
		}
		if s.Paused != "" {
			return fmt.Sprintf("the portfolio to resume (paused by %s) for %d %s", s.Paused, r.N, Units(r.Kind))
		}
		return fmt.Sprintf("%s capacity (%d of %d in use)", r.Kind, s.InUse.Of(r.Kind), s.Spec.Capacity.Of(r.Kind))
	}
	return ""
}
