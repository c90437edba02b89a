package challenges

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Family groups challenges that are the same kind of experiment on
// different systems (the same reaction on another substrate pair, the same
// device with another material): what one campaign measured is evidence
// for its siblings. A campaign in a family starts from what the shared
// memory holds about its siblings (see workflows), and genesis eval
// --sequence runs a family in order to measure what that is worth.
//
// Members must share their design space by name: the same parameters, of
// the same kinds, with the same categorical options (bounds may differ; a
// sibling's point outside this challenge's bounds is not used). Objectives
// are matched by name too.
type Family struct {
	// Name identifies the family (lower-case letters, digits and dashes).
	Name string `yaml:"name" json:"name"`
	// Order is the challenge's place in the family's sequence (from 1).
	Order int `yaml:"order" json:"order"`
}

func (f *Family) validate(add func(field, format string, args ...any)) {
	if f.Name == "" || strings.Trim(f.Name, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		add("family.name", "is %q; want lower-case letters, digits and dashes, e.g. reizman-suzuki", f.Name)
	}
	if f.Order < 1 {
		add("family.order", "is %d; want the challenge's place in the family's sequence, from 1", f.Order)
	}
}

// Families lists the catalog's family names, sorted.
func (c *Catalog) Families() []string {
	var out []string
	for _, ch := range c.byID {
		if ch.Family != nil && !slices.Contains(out, ch.Family.Name) {
			out = append(out, ch.Family.Name)
		}
	}
	sort.Strings(out)
	return out
}

// Family returns the members of a family in their order.
func (c *Catalog) Family(name string) ([]*Challenge, error) {
	var out []*Challenge
	for _, ch := range c.byID {
		if ch.Family != nil && ch.Family.Name == name {
			out = append(out, ch)
		}
	}
	if len(out) == 0 {
		known := c.Families()
		if len(known) == 0 {
			return nil, fmt.Errorf("unknown family %q: no challenge in the catalog declares a family", name)
		}
		return nil, fmt.Errorf("unknown family %q; families: %s", name, strings.Join(known, ", "))
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Family.Order < out[b].Family.Order })
	return out, nil
}

// Siblings returns the other members of a challenge's family (none when it
// has no family), in the family's order.
func (c *Catalog) Siblings(ch *Challenge) []*Challenge {
	if ch.Family == nil {
		return nil
	}
	members, _ := c.Family(ch.Family.Name)
	var out []*Challenge
	for _, m := range members {
		if m.ID != ch.ID {
			out = append(out, m)
		}
	}
	return out
}

// checkFamilies reports what is wrong with the catalog's families: two
// members at the same place, or members whose design spaces or objectives
// do not match by name.
func (c *Catalog) checkFamilies() []Problem {
	var ps []Problem
	for _, name := range c.Families() {
		members, _ := c.Family(name)
		first := members[0]
		for i, m := range members {
			file := m.file
			if i > 0 && m.Family.Order == members[i-1].Family.Order {
				ps = append(ps, Problem{File: file, Field: "family.order", Msg: fmt.Sprintf("%d is also %s's place in family %s; give each member its own", m.Family.Order, members[i-1].ID, name)})
			}
			if i == 0 {
				continue
			}
			if msg := sameSpace(first, m); msg != "" {
				ps = append(ps, Problem{File: file, Field: "family", Msg: fmt.Sprintf("family %s: %s (members must share parameters and objectives by name)", name, msg)})
			}
		}
		if len(members) == 1 {
			ps = append(ps, Problem{File: first.file, Field: "family.name", Msg: fmt.Sprintf("family %s has no other member; name the same family in a sibling's definition", name)})
		}
	}
	return ps
}

// sameSpace says how b's design space or objectives differ from a's ("" if
// they match by name).
func sameSpace(a, b *Challenge) string {
	if len(a.Parameters) != len(b.Parameters) {
		return fmt.Sprintf("%s has %d parameters, %s %d", b.ID, len(b.Parameters), a.ID, len(a.Parameters))
	}
	for _, p := range a.Parameters {
		j := b.ParamIndex(p.Name)
		if j < 0 {
			return fmt.Sprintf("%s has no parameter %s (which %s has)", b.ID, p.Name, a.ID)
		}
		q := b.Parameters[j]
		if q.Kind != p.Kind {
			return fmt.Sprintf("parameter %s is %s in %s but %s in %s", p.Name, q.Kind, b.ID, p.Kind, a.ID)
		}
		if p.Kind == Categorical {
			x, y := slices.Sorted(slices.Values(p.Options)), slices.Sorted(slices.Values(q.Options))
			if !slices.Equal(x, y) {
				return fmt.Sprintf("parameter %s has options %v in %s but %v in %s", p.Name, q.Options, b.ID, p.Options, a.ID)
			}
		}
	}
	for _, o := range a.Objectives {
		if !slices.ContainsFunc(b.Objectives, func(q Objective) bool { return q.Name == o.Name && q.Direction == o.Direction }) {
			return fmt.Sprintf("%s has no objective %s to %s (which %s has)", b.ID, o.Name, o.Direction, a.ID)
		}
	}
	return ""
}

// Translate maps a sibling's point (parameter name → value, as Map gives)
// into this challenge: categorical options by name, numeric values as
// they are. It fails when a parameter is missing or a value lies outside
// this challenge's design space.
func (c *Challenge) Translate(m map[string]any) (Point, error) {
	p, err := c.ParseMap(m)
	if err != nil {
		return nil, err
	}
	if err := c.CheckPoint(p); err != nil {
		return nil, err
	}
	return p, nil
}
