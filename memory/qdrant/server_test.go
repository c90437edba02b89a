package qdrant

import (
	"context"
	"fmt"
	"math"
	"net"
	"sort"
	"sync"
	"testing"

	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// fakeQdrant implements the subset of Qdrant's gRPC Collections and Points
// services the backend uses, with Qdrant's documented semantics: cosine
// collections store normalised vectors and score by dot product; keyword
// match conditions in `must` are ANDed; upsert replaces a point by ID;
// deleting a missing point is not an error; a missing collection is
// NotFound; a vector of the wrong size is InvalidArgument. Test code only.
type fakeQdrant struct {
	qc.UnimplementedCollectionsServer
	qc.UnimplementedQdrantServer

	mu    sync.Mutex
	colls map[string]*fakeColl
	// failNext makes the next n point requests fail with Unavailable, to
	// exercise retries.
	failNext int
}

type fakeColl struct {
	size    uint64
	points  map[string]*fakePoint
	indexes map[string]bool
}

type fakePoint struct {
	id      *qc.PointId
	vec     []float32
	payload map[string]*qc.Value
}

func idKey(id *qc.PointId) string {
	if u := id.GetUuid(); u != "" {
		return u
	}
	return fmt.Sprint(id.GetNum())
}

func (f *fakeQdrant) coll(name string) (*fakeColl, error) {
	c, ok := f.colls[name]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Not found: Collection `%s` doesn't exist!", name)
	}
	return c, nil
}

// lock takes the fake's lock, which the caller releases even on an error,
// and finds the request's collection; a flaky request may fail first (see
// failNext).
func (p *pointsServer) lock(name string, flaky bool) (*fakeColl, error) {
	p.f.mu.Lock()
	if flaky {
		if err := p.f.flaky(); err != nil {
			return nil, err
		}
	}
	return p.f.coll(name)
}

// checkDim refuses a vector of another dimension, as Qdrant does.
func (c *fakeColl) checkDim(v []float32) error {
	if uint64(len(v)) != c.size {
		return status.Errorf(codes.InvalidArgument, "Wrong input: Vector dimension error: expected dim: %d, got %d", c.size, len(v))
	}
	return nil
}

func (f *fakeQdrant) flaky() error {
	if f.failNext > 0 {
		f.failNext--
		return status.Error(codes.Unavailable, "service temporarily unavailable")
	}
	return nil
}

func (f *fakeQdrant) CollectionExists(_ context.Context, r *qc.CollectionExistsRequest) (*qc.CollectionExistsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.colls[r.GetCollectionName()]
	return &qc.CollectionExistsResponse{Result: &qc.CollectionExists{Exists: ok}}, nil
}

func (f *fakeQdrant) Get(_ context.Context, r *qc.GetCollectionInfoRequest) (*qc.GetCollectionInfoResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.coll(r.GetCollectionName())
	if err != nil {
		return nil, err
	}
	n := uint64(len(c.points))
	schema := map[string]*qc.PayloadSchemaInfo{}
	for f := range c.indexes {
		schema[f] = &qc.PayloadSchemaInfo{DataType: qc.PayloadSchemaType_Keyword}
	}
	return &qc.GetCollectionInfoResponse{Result: &qc.CollectionInfo{Status: qc.CollectionStatus_Green, PointsCount: &n, PayloadSchema: schema,
		Config: &qc.CollectionConfig{Params: &qc.CollectionParams{VectorsConfig: qc.NewVectorsConfig(&qc.VectorParams{Size: c.size, Distance: qc.Distance_Cosine})}}}}, nil
}

func (f *fakeQdrant) Create(_ context.Context, r *qc.CreateCollection) (*qc.CollectionOperationResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.colls[r.GetCollectionName()]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "Wrong input: Collection `%s` already exists!", r.GetCollectionName())
	}
	p := r.GetVectorsConfig().GetParams()
	if p == nil || p.GetSize() == 0 {
		return nil, status.Error(codes.InvalidArgument, "Wrong input: vectors config is required")
	}
	if p.GetDistance() != qc.Distance_Cosine {
		return nil, status.Error(codes.Unimplemented, "the test server supports cosine collections only")
	}
	f.colls[r.GetCollectionName()] = &fakeColl{size: p.GetSize(), points: map[string]*fakePoint{}, indexes: map[string]bool{}}
	return &qc.CollectionOperationResponse{Result: true}, nil
}

func (f *fakeQdrant) Delete(_ context.Context, r *qc.DeleteCollection) (*qc.CollectionOperationResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.colls[r.GetCollectionName()]
	delete(f.colls, r.GetCollectionName())
	return &qc.CollectionOperationResponse{Result: ok}, nil
}

// pointsServer adapts the Points service (its Delete clashes with the
// Collections service's Delete on one type).
type pointsServer struct {
	qc.UnimplementedPointsServer
	f *fakeQdrant
}

func done() *qc.PointsOperationResponse {
	return &qc.PointsOperationResponse{Result: &qc.UpdateResult{Status: qc.UpdateStatus_Completed}}
}

func unit(v []float32) []float32 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	out := make([]float32, len(v))
	if s == 0 {
		return out
	}
	n := float32(1 / math.Sqrt(s))
	for i, x := range v {
		out[i] = x * n
	}
	return out
}

func (p *pointsServer) Upsert(_ context.Context, r *qc.UpsertPoints) (*qc.PointsOperationResponse, error) {
	c, err := p.lock(r.GetCollectionName(), true)
	defer p.f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	// Check the whole batch first: Qdrant applies a batch or rejects it.
	batch := make([]*fakePoint, len(r.GetPoints()))
	for i, pt := range r.GetPoints() {
		data := pt.GetVectors().GetVector().GetDense().GetData()
		if err := c.checkDim(data); err != nil {
			return nil, err
		}
		batch[i] = &fakePoint{id: pt.GetId(), vec: unit(data), payload: pt.GetPayload()}
	}
	for _, p := range batch {
		c.points[idKey(p.id)] = p
	}
	return done(), nil
}

func (p *pointsServer) Delete(_ context.Context, r *qc.DeletePoints) (*qc.PointsOperationResponse, error) {
	c, err := p.lock(r.GetCollectionName(), false)
	defer p.f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	for _, id := range r.GetPoints().GetPoints().GetIds() {
		delete(c.points, idKey(id))
	}
	return done(), nil
}

func (p *pointsServer) CreateFieldIndex(_ context.Context, r *qc.CreateFieldIndexCollection) (*qc.PointsOperationResponse, error) {
	c, err := p.lock(r.GetCollectionName(), false)
	defer p.f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	c.indexes[r.GetFieldName()] = true
	return done(), nil
}

// match evaluates a filter: every `must` keyword condition holds.
func match(flt *qc.Filter, pl map[string]*qc.Value) (bool, error) {
	for _, cond := range flt.GetMust() {
		fc := cond.GetField()
		if fc == nil || fc.GetMatch() == nil {
			return false, status.Error(codes.Unimplemented, "the test server supports keyword match conditions only")
		}
		if pl[fc.GetKey()].GetStringValue() != fc.GetMatch().GetKeyword() {
			return false, nil
		}
	}
	if len(flt.GetShould()) > 0 || len(flt.GetMustNot()) > 0 {
		return false, status.Error(codes.Unimplemented, "the test server supports must conditions only")
	}
	return true, nil
}

func (p *pointsServer) Query(_ context.Context, r *qc.QueryPoints) (*qc.QueryResponse, error) {
	c, err := p.lock(r.GetCollectionName(), true)
	defer p.f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	q := r.GetQuery().GetNearest().GetDense().GetData()
	if err := c.checkDim(q); err != nil {
		return nil, err
	}
	q = unit(q)
	var out []*qc.ScoredPoint
	for _, pt := range c.points {
		ok, err := match(r.GetFilter(), pt.payload)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		var dot float32
		for i := range q {
			dot += q[i] * pt.vec[i]
		}
		sp := &qc.ScoredPoint{Id: pt.id, Score: dot}
		if r.GetWithPayload().GetEnable() {
			sp.Payload = pt.payload
		}
		out = append(out, sp)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return idKey(out[i].Id) < idKey(out[j].Id)
	})
	limit := uint64(10)
	if r.Limit != nil {
		limit = r.GetLimit()
	}
	if uint64(len(out)) > limit {
		out = out[:limit]
	}
	return &qc.QueryResponse{Result: out}, nil
}

func (p *pointsServer) Count(_ context.Context, r *qc.CountPoints) (*qc.CountResponse, error) {
	c, err := p.lock(r.GetCollectionName(), false)
	defer p.f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	var n uint64
	for _, pt := range c.points {
		ok, err := match(r.GetFilter(), pt.payload)
		if err != nil {
			return nil, err
		}
		if ok {
			n++
		}
	}
	return &qc.CountResponse{Result: &qc.CountResult{Count: n}}, nil
}

// startFake serves a fake Qdrant on a loopback port and returns its URL.
func startFake(t testing.TB) (*fakeQdrant, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeQdrant{colls: map[string]*fakeColl{}}
	srv := grpc.NewServer()
	qc.RegisterCollectionsServer(srv, f)
	qc.RegisterPointsServer(srv, &pointsServer{f: f})
	qc.RegisterQdrantServer(srv, f)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return f, "http://" + ln.Addr().String()
}
