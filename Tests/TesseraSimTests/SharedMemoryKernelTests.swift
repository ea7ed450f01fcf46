import Testing
@testable import TesseraSim

/// Kernels that cooperate through shared memory, barriers, shuffles and atomics.
@Suite struct SharedMemoryKernelTests {
    func runMatmul(_ harness: SimHarness, _ module: SimModule, m: Int, n: Int, k: Int) throws {
        var random = SplitMix64(seed: UInt64(m * 10_000 + n * 100 + k))
        let a = (0..<(m * k)).map { _ in Float(random.double(-1, 1)) }
        let b = (0..<(k * n)).map { _ in Float(random.double(-1, 1)) }
        let (da, db) = (try harness.upload(a), try harness.upload(b))
        let dc = try harness.zeros(Float.self, count: m * n)
        let grid = Dim3(UInt32((n + 15) / 16), UInt32((m + 15) / 16))
        try harness.run(module.kernel(named: "matmul_tiled"), grid: grid, block: Dim3(16, 16),
                        arg(da), arg(db), arg(dc), arg(Int32(m)), arg(Int32(n)), arg(Int32(k)))
        let c = try harness.download(dc, count: m * n, as: Float.self)
        // The kernel accumulates in k order with fma.rn.f32, tile by tile, so the CPU can match it exactly.
        var expected = [Float](repeating: 0, count: m * n)
        for row in 0..<m {
            for col in 0..<n {
                var acc: Float = 0
                for kk in 0..<k { acc = acc.addingProduct(a[row * k + kk], b[kk * n + col]) }
                expected[row * n + col] = acc
            }
        }
        #expect(c == expected, "\(m)×\(k) · \(k)×\(n)")
    }

    @Test func tiledMatmul64() throws {
        let harness = SimHarness()
        try runMatmul(harness, harness.load("matmul.cu", .fatbin), m: 64, n: 64, k: 64)
    }

    @Test func tiledMatmulRaggedEdges() throws {
        let harness = SimHarness()
        try runMatmul(harness, harness.load("matmul.cu", .fatbinUncompressed), m: 37, n: 29, k: 41)
    }

    @Test(arguments: [75, 80, 86, 89, 90])
    func tiledMatmulForEveryVirtualArchitecture(arch: Int) throws {
        let harness = SimHarness()
        try runMatmul(harness, harness.load("matmul.cu", .ptx(arch: arch)), m: 32, n: 48, k: 40)
    }

    @Test func shuffleReductionWithAtomics() throws {
        let harness = SimHarness()
        let module = try harness.load("reduction.cu", .fatbin)
        let n = 10_000
        var random = SplitMix64(seed: 7)
        let values = (0..<n).map { _ in Int32(random.int(-50_000...50_000)) }
        let din = try harness.upload(values)
        let total = try harness.upload([UInt64(0)])
        try harness.run(module.kernel(named: "reduce_sum_i32"), grid: Dim3(9), block: Dim3(160), arg(din), arg(Int32(n)), arg(total))
        let sum = values.reduce(Int64(0)) { $0 + Int64($1) }
        #expect(Int64(bitPattern: try harness.download(total, count: 1, as: UInt64.self)[0]) == sum)

        let floats = (0..<n).map { _ in Float(random.double(0, 1)) }
        let dfloats = try harness.upload(floats)
        let ftotal = try harness.upload([Float(0)])
        try harness.run(module.kernel(named: "reduce_sum_f32"), grid: Dim3(13), block: Dim3(256), arg(dfloats), arg(Int32(n)), arg(ftotal))
        let exact = floats.reduce(0.0) { $0 + Double($1) }
        let got = Double(try harness.download(ftotal, count: 1, as: Float.self)[0])
        #expect(abs(got - exact) <= exact * 1e-5, "sum \(got), expected \(exact)")
    }

    @Test func sharedMemoryHistogram() throws {
        let harness = SimHarness()
        let kernel = try harness.load("histogram.cu", .ptx(arch: 86)).kernel(named: "histogram256")
        let n = 20_000
        var random = SplitMix64(seed: 3)
        // Skewed: half the bytes fall in a few bins, so many threads contend for the same counters.
        let data = (0..<n).map { i in UInt8(i % 2 == 0 ? random.int(0...3) : random.int(0...255)) }
        let ddata = try harness.upload(data)
        let bins = try harness.zeros(UInt32.self, count: 256)
        try harness.run(kernel, grid: Dim3(6), block: Dim3(192), arg(ddata), arg(Int32(n)), arg(bins))
        var expected = [UInt32](repeating: 0, count: 256)
        for byte in data { expected[Int(byte)] += 1 }
        #expect(try harness.download(bins, count: 256, as: UInt32.self) == expected)
    }
}
