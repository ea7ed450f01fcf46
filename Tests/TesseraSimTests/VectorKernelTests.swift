import Testing
@testable import TesseraSim

/// Element-wise kernels compiled by nvcc, loaded from every kind of image, run on the simulated GPU and
/// checked against the CPU.
@Suite struct VectorKernelTests {
    static let n = 10_000

    func runVectorAdd(_ harness: SimHarness, _ module: SimModule) throws {
        let n = Self.n
        let a = (0..<n).map { Float($0) * 0.5 - 17 }
        let b = (0..<n).map { Float(n - $0) * 0.25 }
        let (da, db) = (try harness.upload(a), try harness.upload(b))
        let dc = try harness.zeros(Float.self, count: n + 1)
        try harness.run(module.kernel(named: "vector_add"), grid: Dim3(UInt32((n + 255) / 256)), block: Dim3(256),
                        arg(da), arg(db), arg(dc), arg(Int32(n)))
        let c = try harness.download(dc, count: n + 1, as: Float.self)
        #expect(Array(c[..<n]) == zip(a, b).map(+))
        #expect(c[n] == 0, "the bounds check kept the last thread block from writing past n")
    }

    @Test(arguments: [
        CUDACompiler.Variant.fatbin, .fatbinUncompressed, .fatbinWith(["-compress-mode=speed"]), .ptx(arch: 75),
    ])
    func vectorAddFromEveryImageKind(variant: CUDACompiler.Variant) throws {
        let harness = SimHarness()
        try runVectorAdd(harness, harness.load("vector_add.cu", variant))
    }

    @Test(arguments: [75, 80, 86, 89, 90])
    func vectorAddForEveryVirtualArchitecture(arch: Int) throws {
        let harness = SimHarness()
        let module = try harness.load("vector_add.cu", .ptx(arch: arch))
        #expect(try module.kernel(named: "vector_add").attributes.binaryVersion == arch)
        // CUDA's PTX_VERSION attribute is the virtual architecture, not the PTX ISA version: CUB matches it
        // against the architectures it was compiled for.
        #expect(try module.kernel(named: "vector_add").attributes.ptxVersion == arch)
        try runVectorAdd(harness, module)
    }

    /// The simulator interprets portable PTX, so PTX for a newer architecture than the device's (all that
    /// libraries like CuPy's CUB ship) loads and runs as a last resort, as text or inside a fatbinary.
    @Test func newerPTXThanTheDeviceRunsAsALastResort() throws {
        let harness = SimHarness(smVersion: 75)
        try runVectorAdd(harness, try harness.load("vector_add.cu", .ptx(arch: 90)))
        let multi = CUDACompiler.Variant.fatbinWith(["-gencode", "arch=compute_86,code=compute_86"])
        try runVectorAdd(harness, try harness.load("vector_add.cu", multi))
    }

    @Test func saxpyGridStrideFloatAndDouble() throws {
        let harness = SimHarness()
        let module = try harness.load("saxpy.cu", .fatbinUncompressed)
        let n = Self.n
        var random = SplitMix64(seed: 1)
        let x = (0..<n).map { _ in random.double(-10, 10) }
        let y = (0..<n).map { _ in random.double(-10, 10) }
        // Fewer threads than elements: each thread strides through several.
        let grid = Dim3(7), block = Dim3(96)

        let xf = x.map(Float.init), yf = y.map(Float.init)
        let (dxf, dyf) = (try harness.upload(xf), try harness.upload(yf))
        try harness.run(module.kernel(named: "saxpy_f32"), grid: grid, block: block, arg(Int32(n)), arg(Float(2.5)), arg(dxf), arg(dyf))
        // nvcc contracts a*x + y into fma.rn.f32.
        #expect(try harness.download(dyf, count: n, as: Float.self) == zip(xf, yf).map { $1.addingProduct(2.5, $0) })

        let (dx, dy) = (try harness.upload(x), try harness.upload(y))
        try harness.run(module.kernel(named: "saxpy_f64"), grid: grid, block: block, arg(Int32(n)), arg(-1.75), arg(dx), arg(dy))
        #expect(try harness.download(dy, count: n, as: Double.self) == zip(x, y).map { $1.addingProduct(-1.75, $0) })
    }

    @Test func dynamicSharedMemory() throws {
        let harness = SimHarness()
        let kernel = try harness.load("dynamic_shared.cu", .ptx(arch: 80)).kernel(named: "reverse_blocks")
        for (n, blockSize) in [(1000, 128), (4096, 1024), (77, 32)] {
            let input = (0..<n).map { Int32($0 * 3 + 1) }
            let din = try harness.upload(input), dout = try harness.zeros(Int32.self, count: n)
            let blocks = (n + blockSize - 1) / blockSize
            try harness.run(kernel, grid: Dim3(UInt32(blocks)), block: Dim3(UInt32(blockSize)),
                            sharedMemoryBytes: blockSize * 4, arg(din), arg(dout), arg(Int32(n)))
            let out = try harness.download(dout, count: n, as: Int32.self)
            var expected = [Int32](repeating: 0, count: n)
            for i in 0..<n {
                let base = i / blockSize * blockSize
                let source = base + blockSize - 1 - (i - base)
                if source < n { expected[i] = input[source] }
            }
            #expect(out == expected, "n \(n), block \(blockSize)")
        }
    }

    @Test(arguments: [(Dim3(5, 3), Dim3(8, 4)), (Dim3(3, 2, 2), Dim3(4, 3, 2)), (Dim3(2, 1, 3), Dim3(1, 5, 7))])
    func gridAndBlockCoordinates(grid: Dim3, block: Dim3) throws {
        let harness = SimHarness()
        let kernel = try harness.load("grids.cu", .fatbin).kernel(named: "coordinates")
        let threads = grid.count * block.count
        let out = try harness.zeros(UInt32.self, count: threads * 4)
        try harness.run(kernel, grid: grid, block: block, arg(out))
        let got = try harness.download(out, count: threads * 4, as: UInt32.self)
        func pack(_ x: UInt32, _ y: UInt32, _ z: UInt32) -> UInt32 { x << 20 | y << 10 | z }
        var expected: [UInt32] = []
        for bz in 0..<grid.z { for by in 0..<grid.y { for bx in 0..<grid.x {
            for tz in 0..<block.z { for ty in 0..<block.y { for tx in 0..<block.x {
                expected += [pack(bx, by, bz), pack(tx, ty, tz), pack(grid.x, grid.y, grid.z), pack(block.x, block.y, block.z)]
            } } }
        } } }
        #expect(got == expected)
    }
}
