// Every kind of atomic, on global and on shared memory, 32- and 64-bit, integer and floating point.
// Results depend only on the set of values, not on the order threads run in.
struct Results {
    int add, min, max, andv, orv, xorv;
    unsigned inc, dec, exchSeen, casCount;
    unsigned long long add64, min64, max64, and64, or64, xor64, cas64;
    long long smin64, smax64;
    unsigned umin, umax;
    float addf;
    double addd;
};

__device__ void apply(Results* r, int v, unsigned long long w, int tid) {
    atomicAdd(&r->add, v);
    atomicMin(&r->min, v);
    atomicMax(&r->max, v);
    atomicAnd(&r->andv, ~(1 << (tid % 31)));
    atomicOr(&r->orv, 1 << (tid % 29));
    atomicXor(&r->xorv, v);
    atomicInc(&r->inc, 100u);      // wraps to 0 after reaching 100
    atomicDec(&r->dec, 1000u);     // from 0 wraps to 1000, then counts down
    atomicExch(&r->exchSeen, (unsigned)tid);
    // Compare-and-swap loop: a 32-bit counter updated only through CAS.
    unsigned old = r->casCount, assumed;
    do { assumed = old; old = atomicCAS(&r->casCount, assumed, assumed + 3u); } while (old != assumed);
    atomicAdd(&r->add64, w);
    atomicMin(&r->min64, w);
    atomicMax(&r->max64, w);
    atomicAnd(&r->and64, ~(1ull << (tid % 61)));
    atomicOr(&r->or64, 1ull << (tid % 59));
    atomicXor(&r->xor64, w);
    unsigned long long o64 = r->cas64, a64;
    do { a64 = o64; o64 = atomicCAS(&r->cas64, a64, a64 + w); } while (o64 != a64);
    atomicMin(&r->smin64, -(long long)w);
    atomicMax(&r->smax64, (long long)w - (1ll << 39));
    atomicMin(&r->umin, (unsigned)v);   // negative values are large unsigned
    atomicMax(&r->umax, (unsigned)v);
    atomicAdd(&r->addf, 0.5f);
    atomicAdd(&r->addd, (double)v * 0.25);
}

__device__ void initialize(Results* r) {
    r->add = 0; r->min = 0x7fffffff; r->max = (int)0x80000000; r->andv = -1; r->orv = 0; r->xorv = 0;
    r->inc = 0; r->dec = 0; r->exchSeen = 0xffffffffu; r->casCount = 0;
    r->add64 = 0; r->min64 = ~0ull; r->max64 = 0; r->and64 = ~0ull; r->or64 = 0; r->xor64 = 0; r->cas64 = 0;
    r->smin64 = 0x7fffffffffffffffll; r->smax64 = -(1ll << 62);   // not LLONG_MIN: see the note in MathKernelTests
    r->umin = 0xffffffffu; r->umax = 0; r->addf = 0.0f; r->addd = 0.0;
}

extern "C" __global__ void atomics_global(const int* values, const unsigned long long* wide, Results* r, int n) {
    int tid = blockIdx.x * blockDim.x + threadIdx.x;
    if (tid < n) apply(r, values[tid], wide[tid], tid);
}

// One block: the same operations on a shared copy, then thread 0 publishes it.
extern "C" __global__ void atomics_shared(const int* values, const unsigned long long* wide, Results* r, int n) {
    __shared__ Results s;
    if (threadIdx.x == 0) initialize(&s);
    __syncthreads();
    for (int tid = threadIdx.x; tid < n; tid += blockDim.x) apply(&s, values[tid], wide[tid], tid);
    __syncthreads();
    if (threadIdx.x == 0) *r = s;
}
