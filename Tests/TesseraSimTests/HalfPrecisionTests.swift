import Testing
@testable import TesseraSim

/// f16, bf16, f16x2 and bf16x2 arithmetic, comparisons and conversions, against references computed on the
/// host with Swift's own Float16 and bit-level bfloat16 rounding.
@Suite struct HalfPrecisionTests {
    // Host references, formulated independently of the simulator's rounding code.
    static func h(_ v: Double) -> UInt16 { v.isNaN ? 0x7FFF : Float16(v).bitPattern }  // GPUs return the canonical NaN
    static func hv(_ b: UInt16) -> Double { Double(Float16(bitPattern: b)) }
    /// Float16 rounded toward zero / down / up: the nearest value, stepped back when it went the wrong way.
    static func hDirected(_ v: Double, _ rule: FloatingPointRoundingRule) -> UInt16 {
        var r = Float16(v)
        switch rule {
        case .towardZero:
            if Swift.abs(Double(r)) > Swift.abs(v) { r = v > 0 ? r.nextDown : r.nextUp }
            if r.isInfinite { r = v > 0 ? .greatestFiniteMagnitude : -.greatestFiniteMagnitude }
        case .down:
            if Double(r) > v { r = r.nextDown }
            if r == .infinity { r = .greatestFiniteMagnitude }
        default:
            if Double(r) < v { r = r.nextUp }
            if r == -.infinity { r = -.greatestFiniteMagnitude }
        }
        return r.bitPattern
    }
    /// bfloat16 from a float: round to nearest even on the dropped 16 bits, or truncate.
    static func b(_ f: Float, truncate: Bool = false) -> UInt16 {
        if f.isNaN { return 0x7FFF }
        let u = f.bitPattern
        if truncate { return UInt16(u >> 16) }
        return UInt16((u &+ 0x7FFF &+ ((u >> 16) & 1)) >> 16)
    }
    /// cvt's saturating float → s32.
    static func int32(_ v: Double) -> Int32 { v >= 2147483647 ? .max : (v <= -2147483648 ? .min : Int32(v)) }
    static func bv(_ x: UInt16) -> Double { Double(Float(bitPattern: UInt32(x) << 16)) }

    @Test func halfAndBfloat16FamilyMatchesHostReferences() throws {
        let harness = SimHarness()
        let kernel = try harness.load("half.cu", .ptx(arch: 90)).kernel(named: "half_ops")
        var random = SplitMix64(seed: 16)
        var inputs: [Float] = []
        let count = 256
        for t in 0..<count {
            for _ in 0..<3 { inputs.append(Float(random.int(-512...512)) / 64) }
            // A few threads convert values outside f16's range, subnormal ones, and exact ties.
            switch t % 16 {
            case 1: inputs[3 * t] = 70_000.5
            case 2: inputs[3 * t] = -1e-6
            case 3: inputs[3 * t] = 2049  // a tie between 2048 and 2050 in f16
            case 4: inputs[3 * t] = 1.0 + 1.0 / 1024 + 1.0 / 4096  // between two f16 values
            default: break
            }
        }
        let din = try harness.upload(inputs)
        let nout = 40
        let out = try harness.zeros(UInt16.self, count: count * nout)
        try harness.run(kernel, grid: Dim3(2), block: Dim3(128), arg(din), arg(out), arg(Int32(count)))
        let got = try harness.download(out, count: count * nout, as: UInt16.self)

        for t in 0..<count {
            let fx = inputs[3 * t], fy = inputs[3 * t + 1], fz = inputs[3 * t + 2]
            let dx = Double(fx), dy = Double(fy), dz = Double(fz)
            let x = Self.h(dx), y = Self.h(dy), z = Self.h(dz)
            let (xv, yv, zv) = (Self.hv(x), Self.hv(y), Self.hv(z))
            func cmpBits(_ a: Double, _ b: Double) -> UInt16 {
                (a < b ? 1 : 0) | (a == b ? 2 : 0) | (a >= b ? 4 : 0) | (a != b ? 8 : 0)
            }
            let one: UInt16 = 0x3C00
            var expected: [Int: UInt16] = [
                0: x, 1: Self.hDirected(dx, .towardZero), 2: Self.hDirected(dx, .down), 3: Self.hDirected(dx, .up),
                4: Self.h(xv + yv), 5: Self.h(xv - yv), 6: Self.h(xv * yv), 7: Self.h(xv * yv + zv),
                8: x ^ 0x8000, 9: x & 0x7FFF,
                10: xv < yv || (xv == yv && x & 0x8000 != 0) ? x : y,
                11: xv > yv || (xv == yv && x & 0x8000 == 0) ? x : y,
                12: cmpBits(xv, yv),
                // p = {lo: x, hi: y}, q = {lo: z, hi: x}
                13: Self.h(xv * zv + xv), 14: Self.h(yv * xv + yv),
                15: Self.h(xv + zv), 16: Self.h(yv + xv), 17: Self.h(xv * zv), 18: Self.h(yv * xv),
                19: xv < zv ? one : 0, 20: yv < xv ? one : 0,
                21: (xv < zv && yv < xv ? 1 : 0) | (xv >= zv && yv >= xv ? 2 : 0),
                22: UInt16(truncatingIfNeeded: Self.int32(xv.rounded(.toNearestOrEven))),
                23: UInt16(truncatingIfNeeded: Self.int32(xv.rounded(.towardZero))),
                24: Self.h(Double(Int32(fz * 100))),
            ]
            let bx = Self.b(fx), by = Self.b(fy), bz = Self.b(fz)
            let (bxv, byv, bzv) = (Self.bv(bx), Self.bv(by), Self.bv(bz))
            expected[27] = bx
            expected[28] = Self.b(fx, truncate: true)
            expected[29] = Self.b(Float(bxv + byv))
            expected[30] = Self.b(Float(bxv * byv))
            expected[31] = Self.b(Float(bxv * byv + bzv))
            expected[32] = bxv >= byv ? bx : by
            expected[33] = (bxv < byv ? 1 : 0) | (bxv == byv ? 2 : 0)
            // bp = {lo: bx, hi: by}, bq = {lo: bz, hi: bx}
            expected[34] = Self.b(Float(bxv * bzv + bxv))
            expected[35] = Self.b(Float(byv * bxv + byv))
            let back = Float(xv) + Float(bxv)
            expected[36] = UInt16(back.bitPattern & 0xFFFF)
            expected[37] = UInt16(back.bitPattern >> 16)
            expected[38] = Self.h(bxv)
            expected[39] = Self.b(Float(xv))
            for (k, e) in expected.sorted(by: { $0.key < $1.key }) {
                let observed = got[t * nout + k]
                #expect(observed == e, "thread \(t) (x=\(fx), y=\(fy), z=\(fz)) result \(k): got 0x\(String(observed, radix: 16)), expected 0x\(String(e, radix: 16))")
            }
            // Approximations: within f16 precision of the exact value (finite inputs only).
            guard xv.isFinite, Swift.abs(dx) < 100 else { continue }
            let ex2 = Self.hv(got[t * nout + 25]), tanhValue = Self.hv(got[t * nout + 26])
            let ex2Exact = Foundation_exp2(Self.hv(Self.h(dx / 8)))
            #expect(Swift.abs(ex2 - ex2Exact) <= ex2Exact * 2e-3, "ex2 of \(dx / 8): \(ex2) vs \(ex2Exact)")
            #expect(Swift.abs(tanhValue - Foundation_tanh(xv)) <= 2e-3, "tanh of \(xv): \(tanhValue)")
        }
    }

    @Test func halfPrecisionAtomicsAddExactly() throws {
        let harness = SimHarness()
        let kernel = try harness.load("half.cu", .ptx(arch: 90)).kernel(named: "half_atomics")
        let h = try harness.zeros(UInt16.self, count: 2), h2 = try harness.zeros(UInt32.self, count: 1)
        let b = try harness.zeros(UInt16.self, count: 1), b2 = try harness.zeros(UInt32.self, count: 1)
        // 96 threads over 3 blocks (blocks run on several host threads at once).
        try harness.run(kernel, grid: Dim3(3), block: Dim3(32), arg(h), arg(h2), arg(b), arg(b2))
        #expect(try harness.download(h, count: 2, as: UInt16.self) == [Self.h(24), Self.h(-96)])
        let pair = try harness.download(h2, count: 1, as: UInt32.self)[0]
        #expect(pair == UInt32(Self.h(24)) | UInt32(Self.h(48)) << 16)
        #expect(try harness.download(b, count: 1, as: UInt16.self)[0] == Self.b(24))
        let bpair = try harness.download(b2, count: 1, as: UInt32.self)[0]
        #expect(bpair == UInt32(Self.b(24)) | UInt32(Self.b(48)) << 16)
    }
}

#if canImport(Glibc)
import Glibc
#endif
func Foundation_exp2(_ x: Double) -> Double { exp2(x) }
func Foundation_tanh(_ x: Double) -> Double { tanh(x) }
