package workflows

import (
	"fmt"
	"strings"
	"unicode"
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
