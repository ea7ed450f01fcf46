// Cooperative-groups tiles as the reduction sample uses them: a 64-thread tile spans two warps, so its
// reduce synchronises through the block's reserved shared memory (%reserved_smem_offset_1) with
// ld.acquire / red.release / atom.acq_rel spin-waits between warps; the 32-thread reduce is redux.sync on
// sm_80; warpSize is PTX's WARP_SZ. Per thread: out[4 * tid ...] = {sum64, sum32, warpSize, tile64 rank}.
#include <cooperative_groups.h>
#include <cooperative_groups/reduce.h>
namespace cg = cooperative_groups;
extern "C" __global__ void cg_tiles(const int* in, int* out) {
    cg::thread_block block = cg::this_thread_block();
    int v = in[blockIdx.x * blockDim.x + block.thread_rank()];
    cg::thread_block_tile<64> tile64 = cg::tiled_partition<64>(block);
    int s64 = cg::reduce(tile64, v, cg::plus<int>());
    cg::thread_block_tile<32> tile32 = cg::tiled_partition<32>(block);
    int s32 = cg::reduce(tile32, v, cg::plus<int>());
    int* o = out + (blockIdx.x * blockDim.x + block.thread_rank()) * 4;
    o[0] = s64;
    o[1] = s32;
    o[2] = warpSize;
    o[3] = tile64.meta_group_rank();
}
