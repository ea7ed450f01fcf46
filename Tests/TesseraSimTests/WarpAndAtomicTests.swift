import Testing
@testable import TesseraSim

/// Warp votes, ballots, the active mask, shuffles, and every atomic on global and shared memory.
@Suite struct WarpAndAtomicTests {
    @Test func warpVotesBallotsAndShuffles() throws {
        let harness = SimHarness()
        let kernel = try harness.load("warp.cu", .fatbin).kernel(named: "warp_ops")
        let n = 128
        var random = SplitMix64(seed: 11)
        var input = (0..<n).map { _ in Int32(random.int(0...99)) }
        input[37] = 7  // the second warp has a 7 for __any_sync; make sure the others do not
        for i in 0..<n where i / 32 != 1 && input[i] == 7 { input[i] = 8 }
        let din = try harness.upload(input)
        let out = try harness.zeros(UInt32.self, count: n * 11)
        try harness.run(kernel, grid: Dim3(2), block: Dim3(64), arg(din), arg(out), arg(Int32(n)))
        let got = try harness.download(out, count: n * 11, as: UInt32.self)

        for warp in 0..<(n / 32) {
            let v = Array(input[(warp * 32)..<(warp * 32 + 32)])
            var ballotOdd: UInt32 = 0, oddBig: UInt32 = 0
            for lane in 0..<32 {
                if v[lane] & 1 != 0 { ballotOdd |= 1 << lane }
                if lane & 1 != 0, v[lane] > 50 { oddBig |= 1 << lane }
            }
            for lane in 0..<32 {
                let tid = warp * 32 + lane
                func observed(_ k: Int) -> UInt32 { got[k * n + tid] }
                let isOdd = lane & 1 != 0
                let expected: [UInt32] = [
                    ballotOdd,
                    v.contains(7) ? 1 : 0,
                    1,
                    UInt32(bitPattern: lane >= 3 ? v[lane - 3] : v[lane]),
                    UInt32(bitPattern: v[lane ^ 5]),
                    UInt32(bitPattern: v[(lane * 7 + 3) & 31]),
                    UInt32(bitPattern: (lane & 7) + 2 < 8 ? v[lane + 2] : v[lane]),
                    isOdd ? 0xAAAA_AAAA : 0,
                    isOdd ? oddBig : 0,
                    0xFFFF_FFFF,
                    32 + 256,
                ]
                let names = ["ballot", "any", "all", "shfl.up", "shfl.bfly", "shfl.idx", "shfl.down width 8",
                             "activemask in branch", "ballot in branch", "activemask reconverged", "popc+all"]
                for k in 0..<expected.count {
                    #expect(observed(k) == expected[k], "warp \(warp) lane \(lane): \(names[k])")
                }
            }
        }
    }

    /// Mirrors `struct Results` in atomics.cu (136 bytes).
    struct Results: Equatable {
        var add: Int32 = 0, min = Int32.max, max = Int32.min, and: Int32 = -1, or: Int32 = 0, xor: Int32 = 0
        var inc: UInt32 = 0, dec: UInt32 = 0, exchSeen = UInt32.max, casCount: UInt32 = 0
        var add64: UInt64 = 0, min64 = UInt64.max, max64: UInt64 = 0, and64 = UInt64.max, or64: UInt64 = 0, xor64: UInt64 = 0, cas64: UInt64 = 0
        var smin64 = Int64.max, smax64: Int64 = -(1 << 62)
        var umin = UInt32.max, umax: UInt32 = 0
        var addf: Float = 0
        var addd: Double = 0

        static let size = 136

        var bytes: [UInt8] {
            var out: [UInt8] = []
            func put<T: BitwiseCopyable>(_ v: T) { withUnsafeBytes(of: v) { out += $0 } }
            for v in [add, min, max, and, or, xor] { put(v) }
            for v in [inc, dec, exchSeen, casCount] { put(v) }
            for v in [add64, min64, max64, and64, or64, xor64, cas64] { put(v) }
            put(smin64); put(smax64); put(umin); put(umax); put(addf); put(UInt32(0)); put(addd)
            return out
        }

        init() {}

        init(bytes: [UInt8]) {
            func get<T: BitwiseCopyable>(_ offset: Int, _: T.Type) -> T {
                bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) }
            }
            (add, min, max, and, or, xor) = (get(0, Int32.self), get(4, Int32.self), get(8, Int32.self), get(12, Int32.self), get(16, Int32.self), get(20, Int32.self))
            (inc, dec, exchSeen, casCount) = (get(24, UInt32.self), get(28, UInt32.self), get(32, UInt32.self), get(36, UInt32.self))
            (add64, min64, max64, and64) = (get(40, UInt64.self), get(48, UInt64.self), get(56, UInt64.self), get(64, UInt64.self))
            (or64, xor64, cas64, smin64) = (get(72, UInt64.self), get(80, UInt64.self), get(88, UInt64.self), get(96, Int64.self))
            (smax64, umin, umax) = (get(104, Int64.self), get(112, UInt32.self), get(116, UInt32.self))
            (addf, addd) = (get(120, Float.self), get(128, Double.self))
        }

        /// What applying every thread's operations gives, in any order (except which exchange lands last).
        static func expected(values: [Int32], wide: [UInt64]) -> Results {
            var r = Results()
            for (tid, (v, w)) in zip(values, wide).enumerated() {
                r.add &+= v; r.min = Swift.min(r.min, v); r.max = Swift.max(r.max, v)
                r.and &= ~(1 << (tid % 31)); r.or |= 1 << (tid % 29); r.xor ^= v
                r.inc = r.inc >= 100 ? 0 : r.inc + 1
                r.dec = (r.dec == 0 || r.dec > 1000) ? 1000 : r.dec - 1
                r.casCount &+= 3
                r.add64 &+= w; r.min64 = Swift.min(r.min64, w); r.max64 = Swift.max(r.max64, w)
                r.and64 &= ~(1 << UInt64(tid % 61)); r.or64 |= 1 << UInt64(tid % 59); r.xor64 ^= w
                r.cas64 &+= w; r.smin64 = Swift.min(r.smin64, -Int64(w)); r.smax64 = Swift.max(r.smax64, Int64(w) - (1 << 39))
                r.umin = Swift.min(r.umin, UInt32(bitPattern: v)); r.umax = Swift.max(r.umax, UInt32(bitPattern: v))
                r.addf += 0.5; r.addd += Double(v) * 0.25
            }
            return r
        }
    }

    @Test(arguments: ["atomics_global", "atomics_shared"])
    func everyAtomicOperation(kernelName: String) throws {
        let harness = SimHarness()
        let kernel = try harness.load("atomics.cu", .fatbin).kernel(named: kernelName)
        let n = 1000
        var random = SplitMix64(seed: 5)
        let values = (0..<n).map { _ in Int32(random.int(-1000...1000)) }
        let wide = (0..<n).map { _ in random.next() >> 24 }
        let dvalues = try harness.upload(values), dwide = try harness.upload(wide)
        let results = try harness.upload(Results().bytes)
        let global = kernelName == "atomics_global"
        try harness.run(kernel, grid: Dim3(global ? 4 : 1), block: Dim3(256), arg(dvalues), arg(dwide), arg(results), arg(Int32(n)))
        var got = Results(bytes: try harness.download(results, count: Results.size, as: UInt8.self))
        var expected = Results.expected(values: values, wide: wide)
        #expect(got.exchSeen < UInt32(n), "the last exchange stored some thread's index")
        got.exchSeen = 0
        expected.exchSeen = 0
        #expect(got == expected)
    }
}
