// A tensor-core instruction through inline PTX: the simulator does not implement mma and must say so.
extern "C" __global__ void mma_m8n8k4(const unsigned* a, const unsigned* b, float* d) {
    unsigned lane = threadIdx.x;
    unsigned a0 = a[lane * 2], a1 = a[lane * 2 + 1];
    unsigned b0 = b[lane * 2], b1 = b[lane * 2 + 1];
    float c[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    float r[8];
    asm volatile(
        "mma.sync.aligned.m8n8k4.row.col.f32.f16.f16.f32 "
        "{%0,%1,%2,%3,%4,%5,%6,%7}, {%8,%9}, {%10,%11}, {%12,%13,%14,%15,%16,%17,%18,%19};"
        : "=f"(r[0]), "=f"(r[1]), "=f"(r[2]), "=f"(r[3]), "=f"(r[4]), "=f"(r[5]), "=f"(r[6]), "=f"(r[7])
        : "r"(a0), "r"(a1), "r"(b0), "r"(b1),
          "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]), "f"(c[4]), "f"(c[5]), "f"(c[6]), "f"(c[7]));
    for (int i = 0; i < 8; ++i) d[lane * 8 + i] = r[i];
}
