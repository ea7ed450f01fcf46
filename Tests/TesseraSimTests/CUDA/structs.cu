// Structs passed by value with odd sizes and alignments, mixed with scalars, so parameter offsets matter.
struct S3 { unsigned char v[3]; };                   // size 3, align 1
struct S13 { unsigned char v[13]; };                 // size 13, align 1
struct S24 { double d; int i; float f; short s; };   // size 24, align 8
struct S70 { short v[35]; };                         // size 70, align 2

extern "C" __global__ void struct_params(S3 a, char c, S13 b, double x, S24 s, short h, S70 big, int* out) {
    if (threadIdx.x != 0 || blockIdx.x != 0) return;
    int k = 0;
    for (int i = 0; i < 3; ++i) out[k++] = a.v[i];
    out[k++] = c;
    for (int i = 0; i < 13; ++i) out[k++] = b.v[i];
    out[k++] = (int)(x * 1000.0);
    out[k++] = (int)(s.d * 1000.0);
    out[k++] = s.i;
    out[k++] = (int)(s.f * 1000.0f);
    out[k++] = s.s;
    out[k++] = h;
    for (int i = 0; i < 35; ++i) out[k++] = big.v[i];
}
