package chat

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/genesis-sci/genesis/internal/clip"
)

// The chat's guard. A chat turn's model reads text that nobody in the
// conversation wrote — memory records, campaigns' rationales, IDs, tool
// output — and a model may do what such text tells it to. So the model's
// choice of action is never enough: an action is taken only when the
// user's own latest message asks for it, in words (the verb, not negated,
// outside quotes) and by name (the campaign, approval or challenge it acts
// on). The guard runs twice: in the ChatTurn activity, which also knows
// what the turn showed, and again in the workflow before it acts.

// chatVerbs are the words that ask for an action.
func chatVerbs(kind string) []string {
	switch kind {
	case "approve_runs", "approve_approval":
		return []string{"approve", "accept"}
	case "reject_runs", "reject_approval":
		return []string{"reject", "decline", "deny"}
	case "stop_campaign":
		return []string{"stop", "cancel", "halt", "abort"}
	case "start_campaign":
		return []string{"start", "launch", "begin", "run"}
	}
	return nil
}

// chatOpposite is the kind that decides the other way: a message asking
// for both is ambiguous.
func chatOpposite(kind string) string {
	switch kind {
	case "approve_runs":
		return "reject_runs"
	case "reject_runs":
		return "approve_runs"
	case "approve_approval":
		return "reject_approval"
	case "reject_approval":
		return "approve_approval"
	}
	return ""
}

// effectful reports whether a chat action changes anything.
func effectful(kind string) bool { return chatVerbs(kind) != nil }

// chatAsked says why text (the user's message) does not ask for an action
// of kind on one of names ("" when it does). names are the IDs that may
// stand for the target; one of them must appear as a whole word.
func chatAsked(text, kind string, names ...string) string {
	verbs := chatVerbs(kind)
	if verbs == nil {
		return fmt.Sprintf("%q is not an action I take", kind)
	}
	req := requests(text)
	if !req.any(verbs) {
		return fmt.Sprintf("your message does not ask me to %s it (outside quotes, and not negated)", verbs[0])
	}
	if o := chatOpposite(kind); o != "" && req.any(chatVerbs(o)) {
		return fmt.Sprintf("your message asks both to %s and to %s; ask for one decision per message", verbs[0], chatVerbs(o)[0])
	}
	for _, n := range names {
		if n != "" && namesWord(text, n) {
			return ""
		}
	}
	if len(names) == 0 || names[0] == "" {
		return "it names nothing to act on"
	}
	return fmt.Sprintf("your message does not name %s", names[0])
}

// requested holds the verbs a message uses as requests.
type requested []string

func (r requested) any(verbs []string) bool {
	for _, v := range verbs {
		for _, w := range r {
			if w == v {
				return true
			}
		}
	}
	return false
}

// requests finds the words of text that are requests: not inside quotes
// or code, not in a quoted line, not negated ("do not approve", "never
// stop"), not used as nouns ("the run", "a stop") and not in a question
// about something ("when did it start?"). Anything in doubt is not a
// request: a refusal costs the user a rephrasing, an action they did not
// ask for can cost a lab's day.
func requests(text string) requested {
	var out requested
	for _, s := range sentences(unquoted(text)) {
		if ws := words(s); len(ws) == 0 || strings.HasSuffix(strings.TrimSpace(s), "?") && questionWord(ws[0]) {
			continue
		}
		// A negation reaches to the end of its clause ("don't stop it,
		// approve its runs" approves).
		for _, clause := range strings.Split(s, ",") {
			ws := words(clause)
			for i, w := range ws {
				if negated(ws, i) || (i > 0 && notVerbBefore(ws[i-1])) {
					continue
				}
				out = append(out, w)
			}
		}
	}
	return out
}

// unquoted is text without what it quotes: "…", “…”, `…`, ```…``` and
// lines that start with ">".
func unquoted(text string) string {
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), ">") {
			lines = append(lines, l)
		}
	}
	text = strings.Join(lines, "\n")
	var b strings.Builder
	var closer rune // the quote that ends the current quoted span
	for _, r := range text {
		switch {
		case closer != 0:
			if r == closer {
				closer = 0
			}
		case r == '"' || r == '`':
			closer = r
		case r == '“':
			closer = '”'
		case r == '«':
			closer = '»'
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// sentences splits text at sentence ends, keeping a question mark.
func sentences(text string) []string {
	var out []string
	start := 0
	for i, r := range text {
		switch r {
		case '.', '!', ';', '\n':
			out = append(out, text[start:i])
			start = i + 1
		case '?':
			out = append(out, text[start:i+1])
			start = i + 1
		}
	}
	return append(out, text[start:])
}

// words lowercases text and splits it into words (letters and
// apostrophes), leaving out IDs, paths and numbers (anything with a
// hyphen, underscore, slash or digit): an ID such as campaign-approve-1
// must not ask for what its name says.
func words(text string) []string {
	var out []string
	for _, tok := range strings.Fields(strings.ReplaceAll(strings.ToLower(text), "’", "'")) {
		if strings.ContainsAny(tok, "-_/0123456789") {
			continue
		}
		out = append(out, strings.FieldsFunc(tok, func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' })...)
	}
	return out
}

// negated reports whether one of the three words before ws[i] negates it.
func negated(ws []string, i int) bool {
	for j := max(0, i-3); j < i; j++ {
		switch w := ws[j]; {
		case w == "not" || w == "no" || w == "never" || w == "without" || w == "nor" || w == "neither" || w == "cannot",
			w == "dont" || w == "didnt" || w == "doesnt" || w == "cant" || w == "wont" || w == "shouldnt" || w == "mustnt":
			return true
		case strings.HasSuffix(w, "n't"):
			return true
		}
	}
	return false
}

// notVerbBefore reports whether a verb after w is a noun ("the run") or
// not asked for ("if you approve", "did it start").
func notVerbBefore(w string) bool {
	switch w {
	case "the", "a", "an", "this", "that", "these", "those", "my", "your", "his", "her", "its", "our", "their",
		"last", "first", "next", "each", "every", "any", "some",
		"did", "does", "was", "were", "has", "have", "had", "is", "are",
		"when", "why", "whether", "if", "how", "what":
		return true
	}
	return false
}

// questionWord reports whether a question starting with w asks about
// something rather than for something ("can you stop…?" asks for it).
func questionWord(w string) bool {
	switch w {
	case "when", "why", "what", "how", "where", "which", "who", "whose", "did", "does", "do", "is", "are", "was", "were", "has", "have", "had", "should":
		return true
	}
	return false
}

// actionNames are the names that may stand for an action's target in the
// user's message: a waiting campaign's runs may go by the campaign's
// challenge when the turn found it the only one waiting on that challenge
// (the activity sets Challenge only then).
func actionNames(act *ChatAction) []string {
	switch act.Kind {
	case "start_campaign":
		return []string{act.Challenge}
	case "approve_approval", "reject_approval":
		return []string{act.ApprovalID}
	case "approve_runs", "reject_runs":
		return []string{act.CampaignID, act.Challenge}
	}
	return []string{act.CampaignID}
}

// each campaign's runs waiting for approval (and its challenge), the
// portfolio approvals, and every campaign it listed.
type shownDecisions struct {
	runs      map[string]int
	challenge map[string]string  // waiting campaign → its challenge
	approvals map[[2]string]bool // {portfolio, approval}
	campaigns map[string]bool
}

// chatActionOut is the action a chat reply asks for.
type chatActionOut struct {
	Kind        string `json:"kind" jsonschema:"enum=none,enum=start_campaign,enum=stop_campaign,enum=approve_runs,enum=reject_runs,enum=approve_approval,enum=reject_approval"`
	Challenge   string `json:"challenge,omitempty"`
	Budget      int    `json:"budget,omitempty" jsonschema:"minimum=0,maximum=200"`
	CampaignID  string `json:"campaign_id,omitempty"`
	PortfolioID string `json:"portfolio_id,omitempty"`
	ApprovalID  string `json:"approval_id,omitempty"`
}

// maxChatBudget is the most lab experiments a campaign started from the
// chat may spend.
const maxChatBudget = 200

// guardChatAction turns the model's action into one to take, or into a
// note saying why none is taken: the target must be one the turn showed,
// and the user's message (text) must ask for the action and name its
// target (chatAsked). What the model read cannot make it act.
func (s *Turns) guardChatAction(act chatActionOut, text string, shown shownDecisions) (*ChatAction, string) {
	if !effectful(act.Kind) {
		return nil, ""
	}
	refuse := func(what, why string) (*ChatAction, string) {
		return nil, fmt.Sprintf("I did nothing: %s, because %s.", what, why)
	}
	switch act.Kind {
	case "start_campaign":
		c, err := s.cat.Get(act.Challenge)
		if err != nil {
			return nil, fmt.Sprintf("I did not start a campaign: %q is not a known challenge.", act.Challenge)
		}
		if why := chatAsked(text, act.Kind, c.ID); why != "" {
			return refuse("to start a campaign on "+c.ID+", say so naming it, e.g. \"start a campaign on "+c.ID+"\"", why)
		}
		// The budget is the user's, or the challenge's: a number only the
		// model chose is not taken.
		out := &ChatAction{Kind: act.Kind, Challenge: c.ID, Budget: c.Budget.Experiments}
		if act.Budget >= 1 && act.Budget <= maxChatBudget && namesWord(text, strconv.Itoa(act.Budget)) {
			out.Budget = act.Budget
		}
		return out, ""
	case "stop_campaign":
		if !shown.campaigns[act.CampaignID] {
			return refuse(fmt.Sprintf("campaign %q is not one I can see", clip.Clip(act.CampaignID, 80)), "only campaigns listed for your message can be stopped; name its ID (campaign-…)")
		}
		if why := chatAsked(text, act.Kind, act.CampaignID); why != "" {
			return refuse("to stop "+act.CampaignID+", say so naming it, e.g. \"stop "+act.CampaignID+"\"", why)
		}
		return &ChatAction{Kind: act.Kind, CampaignID: act.CampaignID}, ""
	case "approve_runs", "reject_runs":
		// Only runs this turn showed are decided, and exactly those: the
		// decision names their iteration.
		it, ok := shown.runs[act.CampaignID]
		if !ok {
			return nil, fmt.Sprintf("I decided nothing: campaign %q had no lab runs waiting for approval when you asked.", clip.Clip(act.CampaignID, 80))
		}
		out := &ChatAction{Kind: act.Kind, CampaignID: act.CampaignID, Iteration: it}
		if ch := shown.challenge[act.CampaignID]; ch != "" && shown.waitingOn(ch) == 1 {
			out.Challenge = ch // the only campaign of its challenge waiting: its challenge names it
		}
		if why := chatAsked(text, act.Kind, actionNames(out)...); why != "" {
			verb := chatVerbs(act.Kind)[0]
			return nil, fmt.Sprintf("I decided nothing: to %s the runs %s waits on, name it in your message, e.g. \"%s %s\" (%s).", verb, act.CampaignID, verb, act.CampaignID, why)
		}
		return out, ""
	case "approve_approval", "reject_approval":
		// A portfolio decision is taken with the sender's role, so the
		// message itself must name the approval: the model never applies
		// it to an earlier message, someone else's, or the agents' text.
		if !shown.approvals[[2]string{act.PortfolioID, act.ApprovalID}] {
			return nil, fmt.Sprintf("I decided nothing: portfolio %q had no approval %q waiting when you asked.", clip.Clip(act.PortfolioID, 80), clip.Clip(act.ApprovalID, 40))
		}
		if why := chatAsked(text, act.Kind, act.ApprovalID); why != "" {
			verb := chatVerbs(act.Kind)[0]
			return nil, fmt.Sprintf("I decided nothing: to decide approval %s of portfolio %s, name it in your message, e.g. \"%s %s\" (%s).", act.ApprovalID, act.PortfolioID, verb, act.ApprovalID, why)
		}
		return &ChatAction{Kind: act.Kind, PortfolioID: act.PortfolioID, ApprovalID: act.ApprovalID}, ""
	}
	return nil, ""
}

// waitingOn counts the waiting campaigns of a challenge.
func (s shownDecisions) waitingOn(challenge string) int {
	n := 0
	for _, ch := range s.challenge {
		if ch == challenge {
			n++
		}
	}
	return n
}

// namesWord reports whether text contains word on its own (not inside a
// longer word or ID).
func namesWord(text, word string) bool {
	for i := 0; word != ""; {
		j := strings.Index(text[i:], word)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(word)
		if (start == 0 || !idChar(text[start-1])) && (end == len(text) || !idChar(text[end])) {
			return true
		}
		i = start + 1
	}
	return false
}

func idChar(c byte) bool {
	return c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// pendingForPeople lists the decisions people owe (waiting.ListPendingDecisions),
// with how each is decided, when the worker has a Temporal client, and
