import Testing
@testable import TesseraSim

/// Vector loads and stores (`ld`/`st` `.v2`/`.v4`) take the interpreter's specialised forms: whole warps and
/// partial ones, global and shared memory, 32- and 64-bit components; a misaligned vector still faults.
@Suite struct VectorAccessTests {
    @Test(arguments: [false, true])
    func vectorsRoundTripThroughSharedMemory(oddLanesOnly: Bool) throws {
        let harness = SimHarness()
        let kernel = try harness.load("vector_access.cu", .ptx(arch: 80)).kernel(named: "vector_copy")
        // Every vector access of the kernel runs in a specialised form.
        let vectors = kernel.program.code.filter { ($0.op == .ld || $0.op == .st) && $0.count > 1 }
        #expect(vectors.count >= 12)
        #expect(vectors.allSatisfy { $0.fast != .none })

        let blocks = 3, threads = 256, n = blocks * threads
        let words = (0..<(4 * n)).map { UInt32(truncatingIfNeeded: $0 &* 2_654_435_761) }
        let doubles = (0..<(2 * n)).map { Double($0) * 0.75 - 100 }
        let floats = (0..<(2 * n)).map { Float($0) * 1.5 + 3 }
        let in4 = try harness.upload(words), ind = try harness.upload(doubles), in2 = try harness.upload(floats)
        // Outputs start as a pattern the kernel must leave alone where lanes are inactive.
        let out4 = try harness.upload([UInt32](repeating: 0xDEAD_BEEF, count: 4 * n))
        let outd = try harness.upload([Double](repeating: 42, count: 2 * n))
        let out2 = try harness.upload([Float](repeating: -7, count: 2 * n))
        try harness.run(kernel, grid: Dim3(UInt32(blocks)), block: Dim3(UInt32(threads)),
                        arg(in4), arg(out4), arg(ind), arg(outd), arg(in2), arg(out2), arg(Int32(oddLanesOnly ? 1 : 0)))

        var expect4 = [UInt32](repeating: 0xDEAD_BEEF, count: 4 * n)
        var expectD = [Double](repeating: 42, count: 2 * n)
        var expect2 = [Float](repeating: -7, count: 2 * n)
        for i in 0..<n where !oddLanesOnly || i % 2 == 1 {
            let source = (i / threads) * threads + ((i % threads) ^ 2)
            expect4[4 * i] = words[4 * source] &+ 1
            expect4[4 * i + 1] = words[4 * source + 1]
            expect4[4 * i + 2] = words[4 * source + 2]
            expect4[4 * i + 3] = words[4 * source + 3] ^ 0xFFFF_FFFF
            expectD[2 * i] = doubles[2 * source]
            expectD[2 * i + 1] = -doubles[2 * source + 1]
            expect2[2 * i] = floats[2 * source] * 2
            expect2[2 * i + 1] = floats[2 * source + 1]
        }
        #expect(try harness.download(out4, count: 4 * n, as: UInt32.self) == expect4)
        #expect(try harness.download(outd, count: 2 * n, as: Double.self) == expectD)
        #expect(try harness.download(out2, count: 2 * n, as: Float.self) == expect2)
    }

    @Test func misalignedVectorLoadFaults() throws {
        let harness = SimHarness()
        let kernel = try harness.load("vector_access.cu", .ptx(arch: 80)).kernel(named: "misaligned_vector_load")
        let base = try harness.upload([UInt32](repeating: 5, count: 4 * 40))
        let out = try harness.zeros(UInt32.self, count: 4 * 32)
        // Aligned: every lane reads its vector.
        try harness.run(kernel, grid: Dim3(1), block: Dim3(32), arg(base), arg(Int32(16)), arg(out))
        #expect(try harness.download(out, count: 4 * 32, as: UInt32.self) == [UInt32](repeating: 5, count: 4 * 32))
        // Four bytes off a 16-byte boundary: CUDA's misaligned address, sticky.
        try harness.launch(kernel, grid: Dim3(1), block: Dim3(32), arg(base), arg(Int32(4)), arg(out))
        #expect { try harness.context.synchronize() } throws: { error in
            guard let error = error as? SimError else { return false }
            return error.message.contains("misaligned")
        }
    }
}
