package providers

import (
	"context"
	"fmt"
	"strings"

	"github.com/genesis-sci/genesis/agents/llm/ollama"
	"github.com/genesis-sci/genesis/agents/llm/openai"
	"github.com/genesis-sci/genesis/memory"
)

// DefaultEmbedder is the embedder deploy/ollama provisions.
const DefaultEmbedder = "ollama:all-minilm"

// modelEmbedder adapts a provider's Embed to memory.Embedder; its
// dimension is learned from a probe embedding when it is created.
type modelEmbedder struct {
	name  string
	dim   int
	embed func(ctx context.Context, texts []string) ([][]float32, error)
}

func (e *modelEmbedder) Name() string { return e.name }
func (e *modelEmbedder) Dim() int     { return e.dim }

// maxEmbedBatch bounds one request to the embedding endpoint.
const maxEmbedBatch = 64

func (e *modelEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	var out [][]float32
	for start := 0; start < len(texts); start += maxEmbedBatch {
		batch := texts[start:min(len(texts), start+maxEmbedBatch)]
		vs, err := e.embed(ctx, batch)
		if err != nil {
			return nil, err
		}
		if len(vs) != len(batch) {
			return nil, fmt.Errorf("embedder %s returned %d vectors for %d texts", e.name, len(vs), len(batch))
		}
		for i, v := range vs {
			if len(v) != e.dim {
				return nil, fmt.Errorf("embedder %s returned a %d-dimensional vector for text %d, expected %d", e.name, len(v), start+i, e.dim)
			}
		}
		out = append(out, vs...)
	}
	return out, nil
}

// NewEmbedder builds an embedder from a spec: "hashing" (no model: feature
// hashing, for tests and model-less operation), "ollama:MODEL" (e.g.
// ollama:all-minilm) or "openai:MODEL" (any OpenAI-compatible
// /embeddings endpoint). Model embedders are probed once to learn their
// dimension, so an unreachable server or a missing model is reported here.
func NewEmbedder(ctx context.Context, spec string, cfg Config) (memory.Embedder, error) {
	provider, name, _ := strings.Cut(strings.TrimSpace(spec), ":")
	var embed func(ctx context.Context, texts []string) ([][]float32, error)
	switch provider {
	case "hashing":
		return memory.Hashing{}, nil
	case "ollama":
		m, err := ollama.New(cfg.OllamaHost, name)
		if err != nil {
			return nil, err
		}
		embed = m.Embed
	case "openai":
		m := openai.New(cfg.OpenAIBaseURL, cfg.OpenAIKey, name)
		embed = m.Embed
	default:
		return nil, fmt.Errorf("embedder %q: want hashing, ollama:MODEL or openai:MODEL (e.g. %s)", spec, DefaultEmbedder)
	}
	if name == "" {
		return nil, fmt.Errorf("embedder %q names no model (e.g. %s)", spec, DefaultEmbedder)
	}
	probe, err := embed(ctx, []string{"probe"})
	if err != nil {
		return nil, fmt.Errorf("embedder %s: %w (pull the model with deploy/ollama/install.sh, or use --embedder hashing)", spec, err)
	}
	if len(probe) != 1 || len(probe[0]) == 0 {
		return nil, fmt.Errorf("embedder %s returned no vector for a probe text", spec)
	}
	return &modelEmbedder{name: spec, dim: len(probe[0]), embed: embed}, nil
}
