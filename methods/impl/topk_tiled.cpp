// Exact top-K inner product: GEMM tiles fused with a bounded per-row selection.
//
// Note [tiled top-k]: work is split into tasks (query block x bank range); a task computes one
// tile_queries x tile_bank block of scores at a time with single-threaded sgemm and folds each
// row into a candidate buffer: a score enters only above the row's threshold (an SSE2 screen
// skips 16 scores at a time), and a full buffer is cut to its best k by quickselect, whose k-th
// becomes the new threshold. When a task's bank range is a single tile and k <= 64, rows skip the
// buffer (Note [one-tile rows]). Tasks run on at::parallel_for's threads. Memory beyond the
// [n, k] result: per running task one Q x B float tile and, with several tiles, Q x cap 16-byte
// candidates (cap = k + max(128, k / 2)) plus 2 cap of scratch, i.e. at most
// T x Q x (4 B + 24 k + 2048) bytes (about 6 MiB per thread with the defaults and k = 64; one
// tile: 4 Q B + 16 B, at most 4 MiB); and, only when there are fewer query blocks than threads
// (n < T Q), R <= T staging copies of the [n, k] result for the bank ranges that are merged at
// the end. Never the n x M scores.
//
// Note [tiled order]: the order is the one stable_topk (a stable descending torch::sort) gives:
// NaN above everything, then score descending (+0 == -0), equal scores by ascending bank index.
// It is a total order on (score, index), so the kept set and its order do not depend on how the
// work is split: any tiling and thread count give the same result. Within a task bank columns
// arrive in ascending index order, so a new score equal to the row's k-th never displaces it.
//
// Note [tiled scores]: the tile GEMM is the same sgemm call (transposition, K) that torch::mm and
// faiss make for Q B^T, on different M x N blocks. OpenBLAS sums each element over K with a
// blocking that depends only on K, except in its small-matrix kernel (rows x cols <= 1200 for
// this call, D >= 32), which sums in another order. So no tile is that small unless the whole
// problem is (then it is one tile), and the scores, hence the neighbours, equal those of one
// torch::mm over everything bit for bit (tests/coder/test_topk_tiled.cpp checks it, also at
// shapes where a naive tiling would leave small remainders). The other exact paths agree with it
// as long as their own blocks avoid that kernel (faiss: 4096 x 1024; torch: the chunk options).
#include "topk_tiled.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <cblas.h>
#include <dlfcn.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <vector>

#include "vlb/core/error.h"
#include "vlb/methods/impl/neighbours.h"

namespace vlb {

int set_blas_num_threads(int n) {
  // Looked up at run time: present in OpenBLAS (the Debian BLAS torch and faiss use here), absent
  // in reference BLAS, which is single-threaded anyway.
  using Get = int (*)();
  using Set = void (*)(int);
  static const auto get = reinterpret_cast<Get>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  static const auto set = reinterpret_cast<Set>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (!get || !set) return 0;
  const int old = get();
  if (n >= 1 && n != old) set(n);
  return old;
}

namespace {

constexpr int64_t kMinQueriesPerThread = 32;
// OpenBLAS 0.3.21's x86-64 small-matrix sgemm takes a (T, N) call with rows x cols <= 1200.
constexpr int64_t kSmallGemm = 1200;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// A candidate: the score's bits as computed and a key that orders candidates as Note [tiled order]
// does: larger key = better. High half: the score mapped to an unsigned integer that grows with
// it, NaN mapped above +inf, -0 onto +0; low half: the complement of the bank index, so that on
// equal scores the lower index has the larger key. Requires M < 2^32.
struct Cand {
  uint64_t key;
  float value;
};

inline uint64_t order_key(float x, int64_t index) {
  uint32_t u;
  const float z = x + 0.0f;  // -0 -> +0
  std::memcpy(&u, &z, sizeof u);
  // Branch-free (signs are random): negative -> ~u, positive -> u with the top bit set, NaN -> max.
  u ^= static_cast<uint32_t>(static_cast<int32_t>(u) >> 31) | 0x80000000u;
  u |= 0u - static_cast<uint32_t>(x != x);
  return (uint64_t{u} << 32) | (0xFFFFFFFFu - static_cast<uint32_t>(index));
}

inline int64_t key_index(uint64_t key) { return 0xFFFFFFFFu - static_cast<uint32_t>(key); }

struct ByKey {  // a functor, not a function pointer, so that the sorts inline it
  bool operator()(const Cand& a, const Cand& b) const { return a.key > b.key; }
};
constexpr ByKey by_key;

// One query row's candidates for one task: fewer than cap = k + slack entries; after a compaction
// the best k are kept and `key` / `value` hold the k-th (the entry threshold).
struct RowState {
  int64_t fill = 0;
  uint64_t key = 0;                                        // nothing enters below it
  float value = std::numeric_limits<float>::quiet_NaN();   // the screen lets everything through
};

// Moves the k best of c[0, n) (0 < k <= n) to c[0, k), in no particular order: quickselect with a
// branch-free out-of-place partition (std::nth_element's branches mispredict on every other
// element here). scratch: 2 n entries.
void select_best(Cand* c, int64_t n, int64_t k, Cand* scratch) {
  Cand* src = c;
  Cand* bufs[2] = {scratch, scratch + n};
  int64_t done = 0;  // c[0, done) are final
  for (int round = 0; n > k; ++round) {
    if (n <= 16 || round == 64) {  // small, or a pathological pivot sequence: finish with std
      if (src != c + done) std::copy(src, src + n, c + done);
      std::nth_element(c + done, c + done + (k - 1), c + done + n, by_key);
      return;
    }
    // Median of three keys; keys are distinct, so at least one key is above it and one below.
    uint64_t a = src[0].key, b = src[n / 2].key, d = src[n - 1].key;
    const uint64_t p = std::max(std::min(a, b), std::min(std::max(a, b), d));
    Cand* dst = bufs[round & 1];
    int64_t g = 0, l = n - 1;  // dst[0, g): above p; dst(l, n): p and below
    for (int64_t i = 0; i < n; ++i) {
      const Cand x = src[i];
      const bool up = x.key > p;
      dst[g] = x;
      dst[l] = x;
      g += up;
      l -= !up;
    }
    if (g >= k) {
      src = dst;
      n = g;
    } else {
      std::copy(dst, dst + g, c + done);
      done += g;
      k -= g;
      src = dst + g;
      n -= g;
    }
  }
  if (src != c + done) std::copy(src, src + n, c + done);
}

// Keeps the best k of c[0, st.fill) and sets the threshold to the k-th.
void compact(Cand* c, RowState& st, int64_t k, Cand* scratch) {
  select_best(c, st.fill, k, scratch);
  st.fill = k;
  int64_t worst = 0;
  for (int64_t a = 1; a < k; ++a) worst = c[a].key < c[worst].key ? a : worst;
  st.key = c[worst].key;
  st.value = c[worst].value;
}

// Bit i set where s[i] (i < 16) is not <= t: above t, or NaN. SSE2 (every x86-64) or scalar.
inline uint32_t not_le_mask(const float* s, float t) {
#if defined(__SSE2__)
  const __m128 tv = _mm_set1_ps(t);
  uint32_t m = 0;
  for (int v = 0; v < 4; ++v)
    m |= static_cast<uint32_t>(_mm_movemask_ps(_mm_cmpnle_ps(_mm_loadu_ps(s + 4 * v), tv))) << (4 * v);
  return m;
#else
  uint32_t m = 0;
  for (int i = 0; i < 16; ++i) m |= static_cast<uint32_t>(!(s[i] <= t)) << i;
  return m;
#endif
}

// Folds scores s[0, len) of bank rows base.. into a row's candidates.
void scan_row(const float* s, int64_t len, int64_t base, Cand* c, RowState& st, int64_t k,
              int64_t cap, Cand* scratch) {
  constexpr int64_t kBlock = 16;
  float t = st.value;
  // Branch-free append: written always, kept only if it beats the threshold's key. Returns
  // whether a compaction raised the threshold.
  auto offer = [&](int64_t i) {
    const uint64_t key = order_key(s[i], base + i);
    c[st.fill] = {key, s[i]};
    st.fill += key > st.key;
    if (st.fill < cap) return false;
    compact(c, st, k, scratch);
    t = st.value;
    return true;
  };
  // The screen: every entrant is above t or NaN; some non-entrants pass it too (all, while t is
  // NaN), the key decides. x == t never enters: its index is above the kept ones.
  int64_t j = 0;
  for (; j + kBlock <= len; j += kBlock) {
    uint32_t m = not_le_mask(s + j, t);
    while (m) {
      const int b = __builtin_ctz(m);
      m &= m - 1;
      if (offer(j + b)) m &= not_le_mask(s + j, t);  // drop what the raised t now rules out
    }
  }
  for (; j < len; ++j)
    if (!(s[j] <= t)) offer(j);
}

#if defined(__x86_64__) && defined(__GNUC__)
#define VLB_TOPK_AVX512 1
// Note [one-tile rows]: a row whose bank range is one tile (M <= tile_bank) is selected from the
// row itself, not through the candidate buffer (with few scores per neighbour most of them pass
// that screen): lane l of 16 takes the scores j = l (mod 16) and keeps its r = ceil(k / 16)
// largest, NaN ignored; t = the least of the 16 r-th. Then 16 r >= k scores are >= t, so every
// top-k score is >= t or NaN: only those are kept (about 2 k on random scores), and each one's
// rank among them, by counting the better ones, is its output position. A lane short of r
// scores leaves t = -inf: everything is kept, which is still exact. AVX-512 only (picked at run
// time); elsewhere such rows take the buffer.
constexpr int64_t kOneTileMaxK = 64;
constexpr int64_t kRankMax = 512;  // more kept scores (ties, NaN rows): select and sort instead
#define VLB_AVX512 __attribute__((target("avx512f,popcnt")))

// Inserts x into each lane's descending top[0, R).
template <int R>
VLB_AVX512 inline void insert(__m512* top, __m512 x) {
#pragma GCC unroll 4
  for (int i = 0; i < R; ++i) {
    const __m512 hi = _mm512_max_ps(top[i], x);
    x = _mm512_min_ps(top[i], x);
    top[i] = hi;
  }
}

template <int R>
VLB_AVX512 float lane_threshold(const float* s, int64_t len) {
  const __m512 ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  // Even and odd vectors in two sets, so that consecutive inserts do not wait on each other;
  // merged per lane at the end. max(x, -inf) turns NaN into -inf (max returns its second
  // operand on NaN): a NaN left in would be counted as several scores.
  __m512 a[R], b[R];
  for (int i = 0; i < R; ++i) a[i] = b[i] = ninf;
  int64_t j = 0;
  for (; j + 32 <= len; j += 32) {
    insert<R>(a, _mm512_max_ps(_mm512_loadu_ps(s + j), ninf));
    insert<R>(b, _mm512_max_ps(_mm512_loadu_ps(s + j + 16), ninf));
  }
  for (; j < len; j += 16) {
    const __mmask16 m = len - j >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (len - j)) - 1);
    insert<R>(a, _mm512_max_ps(_mm512_mask_loadu_ps(ninf, m, s + j), ninf));
  }
  // The R-th largest of two descending lists: the largest min(a[i - 1], b[R - 1 - i]).
  __m512 t = _mm512_max_ps(a[R - 1], b[R - 1]);
  for (int i = 1; i < R; ++i) t = _mm512_max_ps(t, _mm512_min_ps(a[i - 1], b[R - 1 - i]));
  return _mm512_reduce_min_ps(t);
}

// The 32-bit half of order_key, 16 at a time.
VLB_AVX512 inline __m512i value_key(__m512 x) {
  __m512i u = _mm512_castps_si512(_mm512_add_ps(x, _mm512_setzero_ps()));
  u = _mm512_xor_si512(u, _mm512_or_si512(_mm512_srai_epi32(u, 31), _mm512_set1_epi32(INT32_MIN)));
  return _mm512_mask_mov_epi32(u, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), _mm512_set1_epi32(-1));
}

// The scores of s[0, len) that are >= t or NaN: their value keys at u, bank indices (base + j,
// ascending) at ix; returns how many. u and ix need len + 16 entries.
VLB_AVX512 int64_t keep_above(const float* s, int64_t len, int64_t base, float t, uint32_t* u,
                              int32_t* ix) {
  const __m512 tv = _mm512_set1_ps(t);
  __m512i j16 = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(base)),
                                 _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  int64_t c = 0;
  for (int64_t j = 0; j < len; j += 16, j16 = _mm512_add_epi32(j16, _mm512_set1_epi32(16))) {
    const __mmask16 tail = len - j >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (len - j)) - 1);
    const __m512 x = _mm512_maskz_loadu_ps(tail, s + j);
    const __mmask16 m = _mm512_mask_cmp_ps_mask(tail, x, tv, _CMP_NLT_UQ);
    _mm512_storeu_si512(u + c, _mm512_maskz_compress_epi32(m, _mm512_castps_si512(x)));
    _mm512_storeu_si512(ix + c, _mm512_maskz_compress_epi32(m, j16));
    c += __builtin_popcount(m);
  }
  for (int64_t i = 0; i < c; i += 16)
    _mm512_storeu_si512(u + i, value_key(_mm512_castsi512_ps(_mm512_loadu_si512(u + i))));
  return c;
}

// best[p] = the bank index of the kept score with p better ones, for p < k. Better: a larger
// value key, or an equal one at a lower index, i.e. earlier in u. best needs k + 1 entries.
VLB_AVX512 void rank_kept(const uint32_t* u, const int32_t* ix, int64_t n, int64_t k, int32_t* best) {
  const __m512i one = _mm512_set1_epi32(1);
  for (int64_t i0 = 0; i0 < n; i0 += 16) {
    const __m512i ui = _mm512_loadu_si512(u + i0);
    __m512i cnt = _mm512_setzero_si512();
    for (int64_t j = 0; j < i0; ++j)
      cnt = _mm512_mask_add_epi32(cnt, _mm512_cmpge_epu32_mask(_mm512_set1_epi32(u[j]), ui), cnt, one);
    const int64_t d1 = std::min(n, i0 + 16);
    for (int64_t j = i0; j < d1; ++j) {  // ties count for the lanes after j only
      const __m512i uj = _mm512_set1_epi32(u[j]);
      const __mmask16 m = _mm512_cmpgt_epu32_mask(uj, ui) |
                          (_mm512_cmpeq_epu32_mask(uj, ui) & static_cast<__mmask16>(0xFFFEu << (j - i0)));
      cnt = _mm512_mask_add_epi32(cnt, m, cnt, one);
    }
    for (int64_t j = d1; j < n; ++j)
      cnt = _mm512_mask_add_epi32(cnt, _mm512_cmpgt_epu32_mask(_mm512_set1_epi32(u[j]), ui), cnt, one);
    alignas(64) int32_t c[16];
    _mm512_store_si512(c, cnt);
    for (int64_t a = 0; a < std::min<int64_t>(16, n - i0); ++a)
      best[std::min<int64_t>(c[a], k)] = ix[i0 + a];  // best[k]: a dump for the rest
  }
}

// The best min(k, len) of row s[0, len) (bank rows base..), best first, to v / ix; k <= 64.
// u, kept: len + 16 entries each.
VLB_AVX512 void one_tile_row(const float* s, int64_t len, int64_t base, int64_t k, float* v,
                             int64_t* ix, uint32_t* u, int32_t* kept) {
  float t;
  switch ((k + 15) / 16) {
    case 1: t = lane_threshold<1>(s, len); break;
    case 2: t = lane_threshold<2>(s, len); break;
    case 3: t = lane_threshold<3>(s, len); break;
    default: t = lane_threshold<4>(s, len); break;
  }
  const int64_t n = keep_above(s, len, base, t, u, kept);
  const int64_t cnt = std::min(k, n);
  int32_t best[kOneTileMaxK + 1];
  if (n <= kRankMax) {
    rank_kept(u, kept, n, cnt, best);
  } else {
    std::vector<uint64_t> key(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) key[i] = (uint64_t{u[i]} << 32) | (0xFFFFFFFFu - static_cast<uint32_t>(kept[i]));
    std::nth_element(key.begin(), key.begin() + (cnt - 1), key.end(), std::greater<uint64_t>());
    std::sort(key.begin(), key.begin() + cnt, std::greater<uint64_t>());
    for (int64_t a = 0; a < cnt; ++a) best[a] = static_cast<int32_t>(key_index(key[a]));
  }
  for (int64_t a = 0; a < cnt; ++a) {
    ix[a] = best[a];
    v[a] = s[best[a] - base];
  }
}

#undef VLB_AVX512

bool has_avx512() {
  static const bool yes = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("popcnt");
  return yes;
}
#endif

// Writes the best min(k, fill) candidates, best first, to v / ix.
void finish_row(Cand* c, RowState& st, int64_t k, float* v, int64_t* ix, Cand* scratch) {
  const int64_t cnt = std::min(k, st.fill);
  if (st.fill > cnt) select_best(c, st.fill, cnt, scratch);
  std::sort(c, c + cnt, by_key);
  for (int64_t a = 0; a < cnt; ++a) {
    v[a] = c[a].value;
    ix[a] = key_index(c[a].key);
  }
}

// Restores the caller's BLAS thread count (the setting is process-wide; vlbench's parallel
// workers are processes, so nothing else calls BLAS in between).
// Inside someone else's parallel region it does nothing: other threads may be reading it.
struct BlasThreadsGuard {
  int old;
  explicit BlasThreadsGuard(int n) : old(at::in_parallel_region() ? 0 : set_blas_num_threads(n)) {}
  ~BlasThreadsGuard() {
    if (old > 0) set_blas_num_threads(old);
  }
};

}  // namespace

TopK tiled_topk(const at::Tensor& q, const at::Tensor& bank, int64_t k, int64_t tile_queries,
                int64_t tile_bank) {
  const int64_t n = q.size(0), M = bank.size(0), D = q.size(1);
  if (M >= (int64_t{1} << 32) - 1) throw Error("topk_inner_product (tiled): bank of 2^32 rows or more");
  const int64_t T = at::in_parallel_region() ? 1 : std::max(1, at::get_num_threads());
  const int64_t q_max = std::max<int64_t>(1, tile_queries), b_max = std::max<int64_t>(1, tile_bank);

  // Bank tiles of equal width, rounded up to 16 columns for the GEMM kernel.
  int64_t B = ceil_div(M, ceil_div(M, b_max));
  B = std::min(M, ceil_div(B, 16) * 16);
  // Query blocks: a multiple of T of equal height, or, with too few queries for that, one block
  // row and the bank split into R ranges (merged below) so that every thread still works.
  int64_t Q, R = 1;
  if (T == 1 || n >= T * kMinQueriesPerThread) {
    Q = ceil_div(n, T * ceil_div(n, T * q_max));
  } else {
    Q = std::min(n, q_max);
  }
  // Note [tiled scores]: no tile may be small enough for OpenBLAS's small-matrix kernel unless
  // the whole problem is.
  if (n * M <= kSmallGemm) {
    Q = n;
    B = M;
  } else if (Q * B <= kSmallGemm) {
    B = std::min(M, ceil_div(kSmallGemm + 1, Q));
    if (Q * B <= kSmallGemm) Q = std::min(n, ceil_div(kSmallGemm + 1, M));
  }
  const int64_t n_tiles = ceil_div(M, B), n_blocks = ceil_div(n, Q);
  const int64_t cap = k + std::max<int64_t>(128, k / 2);  // candidates per row between compactions
  if (n_blocks < T) R = std::min(T, n_tiles);

  auto values = torch::empty({n, k}, torch::kFloat);
  auto indices = torch::empty({n, k}, torch::kLong);
  at::Tensor stage_v, stage_i;
  if (R > 1) {
    stage_v = torch::empty({R, n, k}, torch::kFloat);
    stage_i = torch::empty({R, n, k}, torch::kLong);
  }
  float* out_v = (R > 1 ? stage_v : values).data_ptr<float>();
  int64_t* out_i = (R > 1 ? stage_i : indices).data_ptr<int64_t>();
  const float* qp = q.data_ptr<float>();
  const float* bp = bank.data_ptr<float>();
  auto range_begin = [&](int64_t r) { return r * n_tiles / R * B; };
  auto range_end = [&](int64_t r) { return std::min(M, (r + 1) * n_tiles / R * B); };

#if VLB_TOPK_AVX512
  // Note [one-tile rows]; its indices are 32-bit signed.
  const bool one_tile = k <= kOneTileMaxK && n_tiles <= R && M < (int64_t{1} << 31) && has_avx512();
#else
  const bool one_tile = false;
#endif

  BlasThreadsGuard single(1);  // our threads each run one sgemm; no BLAS threads inside them
  at::parallel_for(0, n_blocks * R, 1, [&](int64_t t0, int64_t t1) {
    std::unique_ptr<float[]> tile(new float[static_cast<size_t>(Q * B)]);  // sgemm writes it all
    std::vector<Cand> cand(one_tile ? 0 : static_cast<size_t>(Q * cap)), scratch(one_tile ? 0 : static_cast<size_t>(2 * cap));
    std::vector<RowState> state(static_cast<size_t>(Q));
    std::vector<uint32_t> keys(one_tile ? static_cast<size_t>(B + 16) : 0);
    std::vector<int32_t> kept(keys.size());
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t r = t % R, q0 = (t / R) * Q, rows = std::min(Q, n - q0);
      // Every GEMM is a full Q x B tile: the last block row / tile column is moved back to end
      // at n / M, overlapping its neighbour, and only its new rows / columns are used.
      const int64_t g0 = std::min(q0, n - Q);
      float* v = out_v + (r * n + q0) * k;
      int64_t* ix = out_i + (r * n + q0) * k;
      std::fill(state.begin(), state.end(), RowState{});
      for (int64_t b0 = range_begin(r); b0 < range_end(r); b0 += B) {
        const int64_t s0 = std::min(b0, M - B), cols = std::min(B, M - b0);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(Q),
                    static_cast<int>(B), static_cast<int>(D), 1.f, qp + g0 * D,
                    static_cast<int>(D), bp + s0 * D, static_cast<int>(D), 0.f, tile.get(),
                    static_cast<int>(B));
        const float* first = tile.get() + (q0 - g0) * B + (b0 - s0);
#if VLB_TOPK_AVX512
        if (one_tile) {
          for (int64_t i = 0; i < rows; ++i)
            one_tile_row(first + i * B, cols, b0, k, v + i * k, ix + i * k, keys.data(), kept.data());
          continue;
        }
#endif
        for (int64_t i = 0; i < rows; ++i)
          scan_row(first + i * B, cols, b0, cand.data() + i * cap, state[i], k, cap, scratch.data());
      }
      if (one_tile) continue;
      for (int64_t i = 0; i < rows; ++i)
        finish_row(cand.data() + i * cap, state[i], k, v + i * k, ix + i * k, scratch.data());
    }
  });
  if (R == 1) return {values, indices};

  // Merge the ranges' sorted lists per row; the total order makes the result split-independent.
  float* mv = values.data_ptr<float>();
  int64_t* mi = indices.data_ptr<int64_t>();
  std::vector<Cand> all;
  for (int64_t i = 0; i < n; ++i) {
    all.clear();
    for (int64_t r = 0; r < R; ++r) {
      const int64_t cnt = std::min(k, range_end(r) - range_begin(r));
      for (int64_t a = 0; a < cnt; ++a) {
        const int64_t at = (r * n + i) * k + a;
        all.push_back({order_key(out_v[at], out_i[at]), out_v[at]});
      }
    }
    std::partial_sort(all.begin(), all.begin() + k, all.end(), by_key);
    for (int64_t a = 0; a < k; ++a) {
      mv[i * k + a] = all[a].value;
      mi[i * k + a] = key_index(all[a].key);
    }
  }
  return {values, indices};
}

}  // namespace vlb
