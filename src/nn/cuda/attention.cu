// Fused attention on CUDA, f32: softmax(q k^T) v per (batch item, head) with
// the scores kept on chip (online softmax, flash-attention style), and a
// length per batch item: keys past it are ignored and rows past it are
// zeros (a batch of utterances padded to one length). The unfused tensor
// path writes and reads the (B, H, N, N) scores several times (190 MB per
// DiT block for two rows of 1220 frames), which is most of a flow step.
//
// q (already scaled), k, v and out: (B, H, N, 64) contiguous f32;
// lengths: B values in 1..=N. Grid (ceil(N / 64), B * H), 128 threads.
// Thread t works on query rows 4 * (t / 8) + 0..4 of its block, on keys
// (t % 8) + 8 * j of each tile and output columns (t % 8) + 8 * j; the 8
// threads of a row group are lanes of one warp (shuffles combine them).

#include <math_constants.h>

namespace {
constexpr int D = 64;        // head width
constexpr int BM = 64;       // query rows per block
constexpr int BN = 32;       // keys per tile
constexpr int THREADS = 128;
}

extern "C" __global__ void __launch_bounds__(THREADS)
ishowtts_attention_f32_d64(const float* __restrict__ q, const float* __restrict__ k,
                           const float* __restrict__ v, float* __restrict__ out,
                           const unsigned int* __restrict__ lengths, int heads, int n) {
  // +1 columns: the row-group reads hit distinct banks
  __shared__ float Qs[BM][D + 1];
  __shared__ float Ks[BN][D + 1];
  __shared__ float Vs[BN][D];
  __shared__ float Ps[BM][BN + 1];

  const int tid = threadIdx.x;
  const int rg = tid >> 3;
  const int cg = tid & 7;
  const int bh = blockIdx.y;
  const int len = static_cast<int>(lengths[bh / heads]);
  const int row0 = blockIdx.x * BM;
  const size_t base = static_cast<size_t>(bh) * n * D;

  if (row0 >= len) {  // every row of the block is past the length
    for (int i = tid; i < BM * D; i += THREADS) {
      const int r = row0 + i / D;
      if (r < n) out[base + static_cast<size_t>(r) * D + i % D] = 0.f;
    }
    return;
  }
  for (int i = tid; i < BM * D; i += THREADS) {
    const int r = row0 + i / D;
    Qs[i / D][i % D] = r < len ? q[base + static_cast<size_t>(r) * D + i % D] : 0.f;
  }

  float o[4][8];
  float m[4];
  float l[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    m[i] = -CUDART_INF_F;
    l[i] = 0.f;
#pragma unroll
    for (int j = 0; j < 8; ++j) o[i][j] = 0.f;
  }

  for (int c0 = 0; c0 < len; c0 += BN) {
    __syncthreads();  // the last tile's Ks, Vs and Ps are read
    for (int i = tid; i < BN * D; i += THREADS) {
      const int c = c0 + i / D;
      const bool ok = c < len;
      const size_t at = base + static_cast<size_t>(c) * D + i % D;
      Ks[i / D][i % D] = ok ? k[at] : 0.f;
      Vs[i / D][i % D] = ok ? v[at] : 0.f;
    }
    __syncthreads();

    float s[4][4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) s[i][j] = 0.f;
#pragma unroll 8
    for (int d = 0; d < D; ++d) {
      float qv[4];
      float kv[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) qv[i] = Qs[rg * 4 + i][d];
#pragma unroll
      for (int j = 0; j < 4; ++j) kv[j] = Ks[cg + 8 * j][d];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) s[i][j] = fmaf(qv[i], kv[j], s[i][j]);
    }
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      if (c0 + cg + 8 * j >= len) {
#pragma unroll
        for (int i = 0; i < 4; ++i) s[i][j] = -CUDART_INF_F;
      }
    }

#pragma unroll
    for (int i = 0; i < 4; ++i) {
      float mx = fmaxf(fmaxf(s[i][0], s[i][1]), fmaxf(s[i][2], s[i][3]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 4));
      // every tile holds a key within the length, so mx is finite
      const float m_new = fmaxf(m[i], mx);
      const float alpha = expf(m[i] - m_new);  // 0 on the first tile
      float sum = 0.f;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const float p = expf(s[i][j] - m_new);
        Ps[rg * 4 + i][cg + 8 * j] = p;
        sum += p;
      }
      sum += __shfl_xor_sync(0xffffffffu, sum, 1);
      sum += __shfl_xor_sync(0xffffffffu, sum, 2);
      sum += __shfl_xor_sync(0xffffffffu, sum, 4);
      l[i] = l[i] * alpha + sum;
      m[i] = m_new;
#pragma unroll
      for (int j = 0; j < 8; ++j) o[i][j] *= alpha;
    }
    __syncthreads();

#pragma unroll 4
    for (int c = 0; c < BN; ++c) {
      float pv[4];
      float vv[8];
#pragma unroll
      for (int i = 0; i < 4; ++i) pv[i] = Ps[rg * 4 + i][c];
#pragma unroll
      for (int j = 0; j < 8; ++j) vv[j] = Vs[c][cg + 8 * j];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) o[i][j] = fmaf(pv[i], vv[j], o[i][j]);
    }
  }

#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int r = row0 + rg * 4 + i;
    if (r >= n) continue;
    const float inv = r < len ? 1.f / l[i] : 0.f;
#pragma unroll
    for (int j = 0; j < 8; ++j) out[base + static_cast<size_t>(r) * D + cg + 8 * j] = o[i][j] * inv;
  }
}
