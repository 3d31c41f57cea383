// The CUDA built-ins nsw2v's kernels use, for running their source on the CPU (tests/cuda_emulator.py).
//
// Every lane of a warp is a coroutine with its own stack (made by makecontext, then switched with
// _setjmp/_longjmp, which unlike swapcontext make no system call to save the signal mask). A lane runs until it reaches a warp
// collective (__shfl_sync, __shfl_xor_sync, __ballot_sync, __syncwarp), then hands over to the scheduler;
// once all 32 lanes of the warp wait at a collective, the scheduler checks that it is the same collective
// with the full mask (a divergent warp is an error here, as it would deadlock or be undefined on a GPU),
// computes every lane's result and resumes them. Warps run one after another, or (interleave) every warp
// of the launch advances one collective in turn, so that warps see each other's writes mid-way as on a
// GPU. Atomics are plain additions (one host thread runs everything). Dynamic shared memory is a buffer
// per block with a guard zone behind it, checked after the launch.
#include <setjmp.h>
#include <ucontext.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <functional>
#include <string>
#include <vector>

struct uint3 { unsigned x, y, z; };
struct float4 { float x, y, z, w; };
static inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }

#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__

namespace emu {

enum Op { RUNNING, SYNC, SHFL, SHFL_XOR, BALLOT, FINISHED };
static const char* op_names[] = {"running", "__syncwarp", "__shfl_sync", "__shfl_xor_sync", "__ballot_sync", "exit"};

struct Lane {
    ucontext_t context;
    jmp_buf resume;
    bool started;
    char* stack;
    uint3 thread, block;
    char* shared;
    Op op;
    unsigned mask;
    uint64_t value, result;
    int argument;
};

static Lane* current = nullptr;
static jmp_buf scheduler;
static uint3 block_dim, grid_dim;
static std::function<void()>* body = nullptr;
static std::string error;
static const size_t STACK = 256 * 1024;
static const size_t GUARD = 256;
static const unsigned char POISON = 0xA5;

static void lane_main() {
    (*body)();
    current->op = FINISHED;
    _longjmp(scheduler, 1);
}

static uint64_t collective(Op op, unsigned mask, uint64_t value, int argument) {
    Lane* me = current;
    me->op = op;
    me->mask = mask;
    me->value = value;
    me->argument = argument;
    if (!_setjmp(me->resume)) _longjmp(scheduler, 1);
    return me->result;
}

// Runs a lane until it reaches a collective or exits.
static void run(Lane* lane) {
    current = lane;
    lane->op = RUNNING;
    if (!_setjmp(scheduler)) {
        if (lane->started) _longjmp(lane->resume, 1);
        lane->started = true;
        setcontext(&lane->context);
    }
}

// Runs each lane of the warp to its next collective; resolves it. Returns false once the warp has exited.
static bool advance(Lane* lanes) {
    for (int i = 0; i < 32; ++i)
        if (lanes[i].op != FINISHED) run(&lanes[i]);
    const Op op = lanes[0].op;
    for (int i = 0; i < 32; ++i) {
        if (lanes[i].op != op) {
            error = std::string("divergent warp: lane 0 at ") + op_names[op] + ", lane " + std::to_string(i) +
                    " at " + op_names[lanes[i].op];
            return false;
        }
        if (op != FINISHED && lanes[i].mask != 0xffffffffu) {
            error = std::string(op_names[op]) + " with a partial mask";
            return false;
        }
    }
    if (op == FINISHED) return false;
    uint64_t ballot = 0;
    for (int i = 0; i < 32; ++i) ballot |= (uint64_t)(lanes[i].value != 0) << i;
    for (int i = 0; i < 32; ++i) {
        if (op == SHFL) lanes[i].result = lanes[lanes[i].argument & 31].value;
        else if (op == SHFL_XOR) lanes[i].result = lanes[(i ^ lanes[i].argument) & 31].value;
        else if (op == BALLOT) lanes[i].result = ballot;
    }
    return true;
}

static void start(Lane* lanes, unsigned block, unsigned warp, char* shared) {
    for (int i = 0; i < 32; ++i) {
        Lane& lane = lanes[i];
        lane.thread = uint3{warp * 32 + i, 0, 0};
        lane.block = uint3{block, 0, 0};
        lane.shared = shared;
        lane.op = RUNNING;
        lane.started = false;
        lane.stack = (char*)malloc(STACK);
        getcontext(&lane.context);
        lane.context.uc_stack.ss_sp = lane.stack;
        lane.context.uc_stack.ss_size = STACK;
        lane.context.uc_link = nullptr;
        makecontext(&lane.context, lane_main, 0);
    }
}

static void stop(Lane* lanes) {
    for (int i = 0; i < 32; ++i) free(lanes[i].stack);
}

// Runs a launch of grid x block threads (block a multiple of 32) with `shared` bytes of dynamic shared memory.
static int launch(long long grid, long long block, long long shared, int interleave, std::function<void()> kernel) {
    error.clear();
    if (block % 32 != 0 || block <= 0 || grid <= 0) {
        error = "blocks must hold whole warps";
        return 1;
    }
    body = &kernel;
    block_dim = uint3{(unsigned)block, 1, 1};
    grid_dim = uint3{(unsigned)grid, 1, 1};
    const long long warps = block / 32;
    std::vector<std::vector<char>> memory(interleave ? grid : 1, std::vector<char>(shared + GUARD, (char)POISON));
    std::vector<Lane> lanes((interleave ? grid * warps : 1) * 32);
    if (interleave) {
        for (long long b = 0; b < grid; ++b)
            for (long long w = 0; w < warps; ++w) start(&lanes[(b * warps + w) * 32], b, w, memory[b].data());
        std::vector<bool> running(grid * warps, true);
        for (long long left = grid * warps; left > 0 && error.empty();)
            for (long long w = 0; w < grid * warps && error.empty(); ++w)
                if (running[w] && !advance(&lanes[w * 32])) {
                    running[w] = false;
                    --left;
                }
        for (long long w = 0; w < grid * warps; ++w) stop(&lanes[w * 32]);
    } else {
        for (long long b = 0; b < grid && error.empty(); ++b) {
            memset(memory[0].data(), POISON, shared);
            for (long long w = 0; w < warps && error.empty(); ++w) {
                start(lanes.data(), b, w, memory[0].data());
                while (advance(lanes.data())) {}
                stop(lanes.data());
            }
        }
    }
    for (auto& m : memory)
        for (size_t i = 0; i < GUARD && error.empty(); ++i)
            if ((unsigned char)m[shared + i] != POISON) error = "a write past the dynamic shared memory";
    body = nullptr;
    return error.empty() ? 0 : 1;
}

template <typename T> static uint64_t bits_of(T x) { uint64_t b = 0; memcpy(&b, &x, sizeof(T)); return b; }
template <typename T> static T of_bits(uint64_t b) { T x; memcpy(&x, &b, sizeof(T)); return x; }

}  // namespace emu

#define threadIdx (emu::current->thread)
#define blockIdx (emu::current->block)
#define blockDim (emu::block_dim)
#define gridDim (emu::grid_dim)
#define WALK_SHARED (reinterpret_cast<float4*>(emu::current->shared))

template <typename T> static inline T __shfl_sync(unsigned mask, T value, int lane, int width = 32) {
    return emu::of_bits<T>(emu::collective(emu::SHFL, mask, emu::bits_of(value), lane));
}
template <typename T> static inline T __shfl_xor_sync(unsigned mask, T value, int lane_mask, int width = 32) {
    return emu::of_bits<T>(emu::collective(emu::SHFL_XOR, mask, emu::bits_of(value), lane_mask));
}
static inline unsigned __ballot_sync(unsigned mask, int predicate) {
    return (unsigned)emu::collective(emu::BALLOT, mask, predicate != 0, 0);
}
static inline void __syncwarp(unsigned mask = 0xffffffffu) { emu::collective(emu::SYNC, mask, 0, 0); }
static inline int __popc(unsigned x) { return __builtin_popcount(x); }
static inline int __ffs(int x) { return __builtin_ffs(x); }
template <typename T> static inline T atomicAdd(T* address, T value) {
    T old = *address;
    *address = old + value;
    return old;
}
