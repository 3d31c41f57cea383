// Training by walking the corpus in order: one warp per stream, one launch per chunk.
//
// The rules are nsw2v/training/walk.py's (tests/test_cuda_walk.py runs this file on the CPU against
// walk.reference): warp s walks positions [s * length, min((s + 1) * length, m)) of the chunk's kept
// words, center after center. For each center it draws its window and negatives from the chunk's key
// (splitmix64, counter-based: the same numbers as walk.py), reads every row it needs, then adds its
// updates to W_in and W_out in place. Lanes share a row's dimensions; dot products are warp sums.
//
// Updates are atomicAdd without locks (Hogwild, as the C tool's threads do, here with thousands of
// warps). atomicAdd rather than a plain read-modify-write: (1) within a center a row may be hit twice
// (a negative drawn twice, a word twice in a window), and the reference sums both updates, each
// computed from the rows as read before the center's writes; (2) between warps no update is lost, so
// N warps in flight are at worst N centers that read the same snapshot and whose updates are then all
// summed: the lockstep case that nsw2v/training/numba_engine.py simulates on the CPU to measure quality
// against N. An atomicAdd whose result is unused compiles to a reduction (RED): the warp does not wait
// for it.
//
// Compile-time sizes (-D): VEC floats per lane per access (4: float4 loads, rows 16-byte aligned and
// vector_size % 4 == 0; else 1) and NCH chunks of 32 * VEC floats a row spans, so that a lane's share of
// h, of the error and of a row are arrays of constant size, held in registers (unrolled loops).
// WALK_VEC_ATOMIC (sm_90 and later) adds a float4 with one atomic instead of four.
// Per warp, dynamic shared memory holds the center's context ids, its outputs and their gradients, and
// for skip-gram the output rows' summed updates (walk_shared_words gives its size; the host mirrors it).

#ifndef VEC
#define VEC 4
#endif
#ifndef NCH
#define NCH 1
#endif
#define SPAN (32 * VEC)
#define WALK_THREADS 128
// Rows of up to 128 floats: at most 64 registers a thread, so that an SM holds 32 warps (of 64), and an H100
// (132 SMs) all 4,096 streams of the default at once.
#if NCH * VEC <= 4
#define WALK_BLOCKS_PER_SM 8
#else
#define WALK_BLOCKS_PER_SM 1
#endif
#define FULL 0xffffffffu

typedef unsigned long long u64;

// The dynamic shared memory of the block (tests/cuda_shim.h, the CPU emulator, gives its own buffer instead).
#ifndef WALK_SHARED
extern __shared__ float4 walk_shared_memory[];
#define WALK_SHARED walk_shared_memory
#endif

// splitmix64's output function for state z (walk.mix)
__device__ __forceinline__ u64 walk_mix(u64 z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// The alias table packed one word a column: the acceptance threshold floor(accept * 2**32) in the low 33
// bits, the alias id above them. One draw: a column from the high 32 bits, kept when the low 32 bits are
// below its threshold (walk._alias_draw).
#define ACCEPT_BITS 33
__device__ __forceinline__ int walk_alias_draw(const u64 bits, const u64* __restrict__ table, const int V) {
    const u64 column = ((bits >> 32) * (u64)V) >> 32;
    const u64 entry = table[column];
    return (bits & 0xffffffffull) < (entry & ((1ull << ACCEPT_BITS) - 1)) ? (int)column : (int)(entry >> ACCEPT_BITS);
}

// A lane's share of a row: element c * SPAN + lane * VEC + j is v[c][j].
struct Share {
    float v[NCH][VEC];
};

__device__ __forceinline__ void share_zero(Share& a) {
#pragma unroll
    for (int c = 0; c < NCH; ++c)
#pragma unroll
        for (int j = 0; j < VEC; ++j) a.v[c][j] = 0.0f;
}

__device__ __forceinline__ void share_load(Share& a, const float* row, const int H, const int lane) {
#pragma unroll
    for (int c = 0; c < NCH; ++c) {
        const int d = c * SPAN + lane * VEC;
#if VEC == 4
        if (d < H) {
            const float4 t = *reinterpret_cast<const float4*>(row + d);
            a.v[c][0] = t.x; a.v[c][1] = t.y; a.v[c][2] = t.z; a.v[c][3] = t.w;
        } else {
            a.v[c][0] = a.v[c][1] = a.v[c][2] = a.v[c][3] = 0.0f;
        }
#else
        a.v[c][0] = d < H ? row[d] : 0.0f;
#endif
    }
}

// a += s * b
__device__ __forceinline__ void share_axpy(Share& a, const float s, const Share& b) {
#pragma unroll
    for (int c = 0; c < NCH; ++c)
#pragma unroll
        for (int j = 0; j < VEC; ++j) a.v[c][j] += s * b.v[c][j];
}

// row += s * a, atomically, element by element (float4 at a time where the hardware has it)
__device__ __forceinline__ void share_add_to(float* row, const float s, const Share& a, const int H, const int lane) {
#pragma unroll
    for (int c = 0; c < NCH; ++c) {
        const int d = c * SPAN + lane * VEC;
        if (d < H) {
#if VEC == 4 && defined(WALK_VEC_ATOMIC) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
            atomicAdd(reinterpret_cast<float4*>(row + d),
                      make_float4(s * a.v[c][0], s * a.v[c][1], s * a.v[c][2], s * a.v[c][3]));
#else
#pragma unroll
            for (int j = 0; j < VEC; ++j) atomicAdd(row + d + j, s * a.v[c][j]);
#endif
        }
    }
}

// The dot product of two rows shared by the warp's lanes: every lane gets the sum.
__device__ __forceinline__ float share_dot(const Share& a, const Share& b) {
    float x = 0.0f;
#pragma unroll
    for (int c = 0; c < NCH; ++c)
#pragma unroll
        for (int j = 0; j < VEC; ++j) x += a.v[c][j] * b.v[c][j];
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(FULL, x, o);
    return x;
}

__device__ __forceinline__ float walk_softplus(const float x) {
    return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x)));
}

// 32-bit words of shared memory per warp: [skip-gram: (negative + 1) * NCH * SPAN floats, the output rows'
// summed updates] [negative + 1 floats: g] [negative + 1 ints: outputs] [3 * 2 * window ints: contexts,
// then skip-gram's distinct contexts and their counts], rounded up to whole float4s.
__device__ __forceinline__ long long walk_shared_words(const int window, const int negative, const int sg) {
    const long long words = (sg ? (long long)(negative + 1) * NCH * SPAN : 0) + 2LL * (negative + 1) + 6LL * window;
    return (words + 3) / 4 * 4;
}

// The kept positions around q within reach and inside q's sentence, in order, into ctx (walk.window_contexts;
// sentence numbers never decrease along the chunk, so the positions of q's sentence are contiguous).
__device__ __forceinline__ int walk_contexts(int* ctx, const int* __restrict__ ids, const int* __restrict__ sid,
                                             const long long m, const long long q, const int reach, const int lane) {
    const int sq = sid[q];
    int count = 0;
    for (int base = 0; base < 2 * reach; base += 32) {
        const int i = base + lane;
        int id = 0;
        bool valid = false;
        if (i < 2 * reach) {
            const long long p = q + (i < reach ? i - reach : i - reach + 1);
            if (p >= 0 && p < m) {
                id = ids[p];                                    // read beside its sentence number, not after
                valid = sid[p] == sq;
            }
        }
        const unsigned mask = __ballot_sync(FULL, valid);
        if (valid) ctx[count + __popc(mask & ((1u << lane) - 1u))] = id;
        count += __popc(mask);
    }
    __syncwarp();
    return count;
}

// out[0] = the center, out[1..negative] its negatives: draws 2, 3, ... of the center (walk.negatives,
// batched path), one lane a draw. A negative equal to the center is skipped by the callers. `drawn` is
// the lane's first negative, drawn (its alias table entry read) before the contexts were gathered.
__device__ __forceinline__ int walk_first_draw(const u64 key_q, const u64* __restrict__ table, const int V,
                                               const int negative, const int lane) {
    return lane < negative ? walk_alias_draw(walk_mix(key_q ^ (u64)(2 + lane)), table, V) : 0;
}

__device__ __forceinline__ void walk_outputs(int* out, const int drawn, const u64 key_q, const int center,
                                             const u64* __restrict__ table, const int V, const int negative,
                                             const int lane) {
    if (lane < negative) out[1 + lane] = drawn;
    for (int j = lane + 32; j < negative; j += 32) out[1 + j] = walk_alias_draw(walk_mix(key_q ^ (u64)(2 + j)), table, V);
    if (lane == 0) out[0] = center;
    __syncwarp();
}

// Both kernels' parameters: the tables, the chunk's kept ids and sentence numbers (m of them) in streams of
// `length` positions (`streams` of them hold positions), the packed alias table of V columns, the chunk's
// key, the sizes, the rates at a stream's first and past its last position, and the per-warp sums
// (partial[s]: loss, partial[streams + s]: examples).
#define WALK_PARAMETERS                                                                                        \
    float* W_in, float* W_out, const int H, const int* __restrict__ ids, const int* __restrict__ sid,           \
        const long long m, const long long length, const long long streams, const u64* __restrict__ table,      \
        const int V, const u64 key, const int window, const int negative, const double lr0, const double lr1,    \
        double* __restrict__ partial

// The warp's stream, its shared memory (g, outputs, contexts after skip-gram's output sums), its sums.
#define WALK_STREAM(SG)                                                                                        \
    const int lane = threadIdx.x & 31;                                                                         \
    const int warp = threadIdx.x >> 5;                                                                         \
    const long long s = (long long)blockIdx.x * (blockDim.x >> 5) + warp;                                     \
    if (s >= streams) return;                                                                                  \
    float* shared = reinterpret_cast<float*>(WALK_SHARED) + warp * walk_shared_words(window, negative, SG);   \
    float* g = shared + (SG ? (long long)(negative + 1) * NCH * SPAN : 0);                                     \
    int* out = reinterpret_cast<int*>(g + negative + 1);                                                       \
    int* ctx = out + negative + 1;                                                                             \
    const long long begin = s * length;                                                                        \
    const long long end = begin + length < m ? begin + length : m;                                            \
    double loss = 0.0;                                                                                         \
    long long examples = 0;

// Center q: its key, reach, contexts (none: next center), outputs and learning rate. The center's id and
// its first negatives are read while the window is gathered.
#define WALK_CENTER                                                                                            \
    const u64 key_q = walk_mix(key ^ (u64)q);                                                                  \
    const int reach = window - (int)(((walk_mix(key_q ^ 1ull) >> 32) * (u64)window) >> 32);                   \
    const int center = ids[q];                                                                                 \
    const int drawn = walk_first_draw(key_q, table, V, negative, lane);                                       \
    const int C = walk_contexts(ctx, ids, sid, m, q, reach, lane);                                             \
    if (C == 0) continue;                                                                                      \
    walk_outputs(out, drawn, key_q, center, table, V, negative, lane);                                        \
    const float lr = (float)(lr0 + (lr1 - lr0) * (double)(q - begin) / (double)length);

#define WALK_FINISH                                                                                            \
    if (lane == 0) {                                                                                           \
        partial[s] = loss;                                                                                     \
        partial[streams + s] = (double)examples;                                                               \
    }

// CBOW: h = the mean of the context rows; per output k, g_k = lr (label - sigmoid(h . W_out[o_k]));
// W_out[o_k] += g_k h; every context row += sum_k g_k W_out[o_k] (the C tool's neu1e, whole).
extern "C" __global__ void __launch_bounds__(WALK_THREADS, WALK_BLOCKS_PER_SM) walk_cbow(WALK_PARAMETERS) {
    WALK_STREAM(0)
    for (long long q = begin; q < end; ++q) {
        WALK_CENTER
        Share h, e, row;
        share_zero(h);
#pragma unroll 4
        for (int c = 0; c < C; ++c) {
            share_load(row, W_in + (long long)ctx[c] * H, H, lane);
            share_axpy(h, 1.0f, row);
        }
        const float inverse = 1.0f / (float)C;
#pragma unroll
        for (int c = 0; c < NCH; ++c)
#pragma unroll
            for (int j = 0; j < VEC; ++j) h.v[c][j] *= inverse;
        share_zero(e);
        // each output row is read while the previous one's score is summed across the warp
        share_load(row, W_out + (long long)center * H, H, lane);
        for (int k = 0; k <= negative;) {
            int next = k + 1;
            while (next <= negative && out[next] == center) {   // the batched path's hit: no update, no loss
                if (lane == 0) g[next] = 0.0f;
                ++next;
            }
            Share ahead;
            if (next <= negative) share_load(ahead, W_out + (long long)out[next] * H, H, lane);
            const float score = share_dot(h, row);
            const float z = k == 0 ? score : -score;
            loss += lane == 0 ? (double)walk_softplus(-z) : 0.0;
            const float gk = lr * ((k == 0 ? 1.0f : 0.0f) - 1.0f / (1.0f + expf(-score)));
            share_axpy(e, gk, row);
            if (lane == 0) g[k] = gk;
            row = ahead;
            k = next;
        }
        __syncwarp();
        for (int k = 0; k <= negative; ++k) {                   // every row read: now the writes
            const int o = out[k];
            if (k == 0 || o != center) share_add_to(W_out + (long long)o * H, g[k], h, H, lane);
        }
        for (int c = 0; c < C; ++c) share_add_to(W_in + (long long)ctx[c] * H, 1.0f, e, H, lane);
        examples += 1;
        __syncwarp();                                           // the next center overwrites shared memory
    }
    WALK_FINISH
}

// Skip-gram: each context row x_c is an input scored against the center's outputs (negatives shared by
// the window). A word twice in the window has the same row, scores and updates each time: the distinct
// contexts are trained once, their terms counted n times, so that a context row can be written as soon
// as its own updates are summed (W_in[c] += n sum_k g_ck W_out[o_k]) without changing what a later
// context reads. The output rows' updates (sum_c g_ck x_c) are summed in shared memory (each lane its own
// elements) and written after the last context.
extern "C" __global__ void __launch_bounds__(WALK_THREADS, WALK_BLOCKS_PER_SM) walk_skipgram(WALK_PARAMETERS) {
    WALK_STREAM(1)
    float* acc = shared;                                        // per output, its row's summed update
    int* distinct = ctx + 2 * window;                           // the distinct contexts, first seen first
    int* times = distinct + 2 * window;                         // and how often each is in the window
    for (long long q = begin; q < end; ++q) {
        WALK_CENTER
        int U = 0;
        for (int base = 0; base < C; base += 32) {
            const int i = base + lane;
            int id = 0, n = 0;
            bool first = false;
            if (i < C) {
                id = ctx[i];
                first = true;
                for (int j = 0; j < C; ++j) {
                    n += ctx[j] == id;
                    first = first && !(j < i && ctx[j] == id);
                }
            }
            const unsigned mask = __ballot_sync(FULL, first);
            if (first) {
                distinct[U + __popc(mask & ((1u << lane) - 1u))] = id;
                times[U + __popc(mask & ((1u << lane) - 1u))] = n;
            }
            U += __popc(mask);
        }
        for (int k = 0; k <= negative; ++k)
#pragma unroll
            for (int c = 0; c < NCH; ++c)
#pragma unroll
                for (int j = 0; j < VEC; ++j) acc[((long long)(k * NCH + c) * 32 + lane) * VEC + j] = 0.0f;
        __syncwarp();
        Share x, e, row;
        for (int u = 0; u < U; ++u) {
            const int word = distinct[u];
            const float n = (float)times[u];
            share_load(x, W_in + (long long)word * H, H, lane);
            share_zero(e);
            for (int k = 0; k <= negative; ++k) {
                const int o = out[k];
                if (k > 0 && o == center) continue;
                share_load(row, W_out + (long long)o * H, H, lane);
                const float score = share_dot(x, row);
                const float z = k == 0 ? score : -score;
                loss += lane == 0 ? (double)n * (double)walk_softplus(-z) : 0.0;
                const float gk = lr * ((k == 0 ? 1.0f : 0.0f) - 1.0f / (1.0f + expf(-score)));
                share_axpy(e, gk, row);
                const float ng = n * gk;
#pragma unroll
                for (int c = 0; c < NCH; ++c)
#pragma unroll
                    for (int j = 0; j < VEC; ++j) acc[((long long)(k * NCH + c) * 32 + lane) * VEC + j] += ng * x.v[c][j];
            }
            share_add_to(W_in + (long long)word * H, n, e, H, lane);
        }
        for (int k = 0; k <= negative; ++k) {
            const int o = out[k];
            if (k > 0 && o == center) continue;
#pragma unroll
            for (int c = 0; c < NCH; ++c)
#pragma unroll
                for (int j = 0; j < VEC; ++j) row.v[c][j] = acc[((long long)(k * NCH + c) * 32 + lane) * VEC + j];
            share_add_to(W_out + (long long)o * H, 1.0f, row, H, lane);
        }
        examples += C;
        __syncwarp();
    }
    WALK_FINISH
}
