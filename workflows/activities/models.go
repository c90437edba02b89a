package activities

import (
	"sync"

	"go.temporal.io/sdk/temporal"

	"github.com/genesis-sci/genesis/agents/llm"
	"github.com/genesis-sci/genesis/agents/providers"
)

// Models builds the model a spec names, once per spec, and keeps it for
// the worker's lifetime; it is safe for concurrent use. It is shared by
// the sets that call a model (the agents' steps, the chat).
type Models struct {
	cfg providers.Config
	// build builds a model from a spec; nil means agents.NewModel.
	build func(spec string) (llm.Model, error)

	mu     sync.Mutex
	models map[string]llm.Model
}

// NewModels returns the models of a worker: build (tests' scripted models)
// or, when nil, agents.NewModel with cfg.
func NewModels(cfg providers.Config, build func(spec string) (llm.Model, error)) *Models {
	return &Models{cfg: cfg, build: build, models: map[string]llm.Model{}}
}

// Get returns the model a spec names. A spec no model can be built from
// is a non-retryable llm.KindBadRequest.
func (s *Models) Get(spec string) (llm.Model, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.models[spec]; ok {
		return m, nil
	}
	var m llm.Model
	var err error
	if s.build != nil {
		m, err = s.build(spec)
	} else {
		m, err = providers.NewModel(spec, s.cfg)
	}
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), llm.KindBadRequest, nil)
	}
	s.models[spec] = m
	return m, nil
}
