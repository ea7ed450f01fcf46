import Foundation
import Testing
@testable import TesseraSim

/// CUDA math functions against the CPU within the maximum ULP errors the CUDA C++ Programming Guide
/// documents (0 ulp meaning correctly rounded), and integer bit intrinsics exactly.
@Suite struct MathKernelTests {
    static let n = 2048

    /// |got − exact| in units of the last place of the correctly rounded result.
    static func ulps(_ got: Float, _ exact: Double) -> Double {
        if got.isNaN || exact.isNaN { return got.isNaN && exact.isNaN ? 0 : .infinity }
        return abs(Double(got) - exact) / Double(Float(exact).ulp)
    }

    static func ulps(_ got: Double, _ reference: Double) -> Double {
        if got.isNaN || reference.isNaN { return got.isNaN && reference.isNaN ? 0 : .infinity }
        return abs(got - reference) / reference.ulp
    }

    static func inputs() -> (a: [Float], b: [Float]) {
        var random = SplitMix64(seed: 21)
        let a = (0..<n).map { i in i < 8 ? [1, 2, 0.5, 100, 0.01, 3, 64, 1e-3][i] : Float(random.double(0.01, 100)) }
        let b = (0..<n).map { i in i < 8 ? [0, 1, -1, 0.5, -20, 20, 3.14159265, -1.5707963][i] : Float(random.double(-20, 20)) }
        return (a, b)
    }

    @Test func singlePrecision() throws {
        let harness = SimHarness()
        let kernel = try harness.load("math_f32.cu", .fatbin).kernel(named: "math_f32")
        let n = Self.n
        let (a, b) = Self.inputs()
        let da = try harness.upload(a), db = try harness.upload(b), out = try harness.zeros(Float.self, count: n * 20)
        try harness.run(kernel, grid: Dim3(UInt32(n / 128)), block: Dim3(128), arg(da), arg(db), arg(out), arg(Int32(n)))
        let got = try harness.download(out, count: n * 20, as: Float.self)

        // (name, documented max ulp, exact value in double)
        let checks: [(String, Double, (Double, Double) -> Double)] = [
            ("sqrtf", 0, { a, _ in sqrt(a) }),
            ("expf", 2, { _, b in exp(b) }),
            ("logf", 1, { a, _ in log(a) }),
            ("sinf", 2, { _, b in sin(b) }),
            ("cosf", 2, { _, b in cos(b) }),
            ("rsqrtf", 2, { a, _ in 1 / sqrt(a) }),
            ("fmaf", 0, { a, b in a * b + 1.25 }),
            ("__fdividef", 2, { a, b in b / a }),
            ("x/y", 0, { a, b in a / b }),
            ("tanf", 4, { _, b in tan(b) }),
            ("exp2f", 2, { _, b in exp2(b) }),
            ("log2f", 1, { a, _ in log2(a) }),
            ("powf", 4, { a, _ in pow(a, 0.75) }),
            ("atan2f", 3, { a, b in atan2(b, a) }),
        ]
        for (f, (name, maxUlp, exact)) in checks.enumerated() {
            var worst = 0.0
            for i in 0..<n {
                let e = exact(Double(a[i]), Double(b[i]))
                let error = Self.ulps(got[f * n + i], e)
                worst = max(worst, error)
                if error > maxUlp + 0.5 {
                    Issue.record("\(name)(a: \(a[i]), b: \(b[i])) = \(got[f * n + i]), expected \(Float(e)) (\(error) ulp > \(maxUlp))")
                    break
                }
            }
        }
        for i in 0..<n {
            let (x, y) = (a[i], b[i])
            // __expf: 2 + floor(|1.173 x|) ulp; __sinf: absolute error 2^-21.41 on [-π, π].
            let expBound = 2 + (abs(1.173 * Double(y))).rounded(.down) + 0.5
            #expect(Self.ulps(got[14 * n + i], exp(Double(y))) <= expBound, "__expf(\(y)) = \(got[14 * n + i])")
            if abs(y) <= .pi {
                #expect(abs(Double(got[15 * n + i]) - sin(Double(y))) <= pow(2, -21.41), "__sinf(\(y)) = \(got[15 * n + i])")
            }
            // Exact operations.
            #expect(got[16 * n + i] == min(x, y) + max(x, y) * 2, "fminf/fmaxf at \(i)")
            let rounding = ((y.rounded(.down) + x.rounded(.up) * 0.5) + y.rounded(.towardZero) * 0.25) + x.rounded(.toNearestOrEven) * 0.125
            #expect(got[17 * n + i] == rounding, "floorf/ceilf/truncf/rintf at \(i)")
            #expect(got[18 * n + i] == abs(y) + Float(signOf: y, magnitudeOf: x), "fabsf/copysignf at \(i)")
            #expect(got[19 * n + i] == min(max(y, 0), 1), "__saturatef(\(y))")
        }
    }

    /// Inputs widened with random low bits so that they use double's full precision.
    static func doubleInputs() -> (a: [Double], b: [Double]) {
        let (af, bf) = inputs()
        var random = SplitMix64(seed: 22)
        return (af.map { Double($0) * (1 + random.double(0, 1e-9)) }, bf.map { Double($0) * (1 + random.double(0, 1e-9)) })
    }

    /// Checks each output row `f` against `reference` within `maxUlp` (0: bit-exact).
    static func check(_ got: [Double], _ checks: [(String, Double, (Double, Double) -> Double)], a: [Double], b: [Double]) {
        let n = a.count
        for (f, (name, maxUlp, reference)) in checks.enumerated() {
            for i in 0..<n {
                let expected = reference(a[i], b[i])
                let error = ulps(got[f * n + i], expected)
                if maxUlp == 0 ? got[f * n + i] != expected : error > maxUlp {
                    Issue.record("\(name)(a: \(a[i]), b: \(b[i])) = \(got[f * n + i]), expected \(expected) (\(error) ulp)")
                    break
                }
            }
        }
    }

    @Test func doublePrecision() throws {
        let harness = SimHarness()
        let kernel = try harness.load("math_f64.cu", .ptx(arch: 90)).kernel(named: "math_f64")
        let n = Self.n
        let (a, b) = Self.doubleInputs()
        let da = try harness.upload(a), db = try harness.upload(b), out = try harness.zeros(Double.self, count: n * 9)
        try harness.run(kernel, grid: Dim3(UInt32(n / 64)), block: Dim3(64), arg(da), arg(db), arg(out), arg(Int32(n)))
        let got = try harness.download(out, count: n * 9, as: Double.self)
        // The CPU's libm is itself within about 1 ulp, hence the extra ulp on transcendental functions.
        Self.check(got, [
            ("sqrt", 0, { a, _ in a.squareRoot() }),
            ("exp", 1 + 1, { _, b in exp(b) }),
            ("log", 1 + 1, { a, _ in log(a) }),
            ("rsqrt", 1 + 1, { a, _ in 1 / a.squareRoot() }),
            ("fma", 0, { a, b in 1.25.addingProduct(a, b) }),
            ("x/y", 0, { a, b in a / b }),
            ("pow", 2 + 1, { a, _ in pow(a, 0.75) }),
            ("floor/ceil/trunc", 0, { a, b in (b.rounded(.down) + a.rounded(.up) * 0.5) + b.rounded(.towardZero) * 0.25 }),
            ("conversions", 0, { a, b in Double(Float(b)) + Double(Int32(a * 100)) + Double(Int64(b * 1e6)) }),
        ], a: a, b: b)
    }

    @Test
    func doublePrecisionTrigonometry() throws {
        let harness = SimHarness()
        let kernel = try harness.load("trig_f64.cu", .fatbin).kernel(named: "trig_f64")
        let n = Self.n
        var (_, b) = Self.doubleInputs()
        b[n - 1] = 1e22  // a huge argument exercises the Payne-Hanek path
        b[n - 2] = -3.0e9
        let db = try harness.upload(b), out = try harness.zeros(Double.self, count: n * 3)
        try harness.run(kernel, grid: Dim3(UInt32(n / 64)), block: Dim3(64), arg(db), arg(out), arg(Int32(n)))
        let got = try harness.download(out, count: n * 3, as: Double.self)
        Self.check(got, [
            ("sin", 2 + 1, { _, b in sin(b) }),
            ("cos", 2 + 1, { _, b in cos(b) }),
            ("tan", 2 + 1, { _, b in tan(b) }),
        ], a: b, b: b)
    }

    static func bitReverse(_ v: UInt64) -> UInt64 {
        var r: UInt64 = 0
        for i in 0..<64 where v & (1 << UInt64(i)) != 0 { r |= 1 << UInt64(63 - i) }
        return r
    }

    /// The CPU's answer for each output of `bits32` in bits.cu.
    static func bitsReference(_ x: UInt32, _ y: UInt32) -> [UInt32] {
        let pos = y & 31, len = 1 + (y >> 5) % (32 - pos)
        let mask: UInt32 = len == 32 ? .max : (1 << len) - 1
        let bytes = (0..<8).map { k in UInt32(truncatingIfNeeded: (UInt64(y) << 32 | UInt64(x)) >> (8 * UInt64(k))) & 0xFF }
        let selector = y & 0x7777
        let permuted = (0..<4).reduce(UInt32(0)) { r, k in r | bytes[Int((selector >> (4 * UInt32(k))) & 7)] << (8 * UInt32(k)) }
        let wide = UInt64(y) << 32 | UInt64(x)
        func funnelLeft(_ s: UInt32) -> UInt32 { UInt32(truncatingIfNeeded: (wide << UInt64(s)) >> 32) }
        func funnelRight(_ s: UInt32) -> UInt32 { UInt32(truncatingIfNeeded: wide >> UInt64(s)) }
        func ffs64(_ v: UInt64) -> UInt32 { v == 0 ? 0 : UInt32(v.trailingZeroBitCount + 1) }
        let sx = Int32(bitPattern: x), sy = Int32(bitPattern: y)
        let s = y & 31
        let both = UInt64(x) << 32 | UInt64(y)
        let reversed = bitReverse(both)
        let signedDivisor = sy | 1
        let signedDivMod = sx.dividedReportingOverflow(by: signedDivisor).partialValue &+ sx.remainderReportingOverflow(dividingBy: signedDivisor).partialValue
        return [
            UInt32(x.nonzeroBitCount),
            UInt32(x.leadingZeroBitCount),
            UInt32(truncatingIfNeeded: bitReverse(UInt64(x)) >> 32),
            permuted,
            funnelLeft(y & 31),
            funnelRight(y & 31),
            funnelLeft(min(y, 32)),
            funnelRight(min(y, 32)),
            ffs64(UInt64(x)),
            (x >> pos) & mask,
            UInt32(bitPattern: Int32(bitPattern: x << (32 - pos - len)) >> (32 - len)),
            (x & ~(mask << pos)) | ((y & mask) << pos),
            UInt32(truncatingIfNeeded: (UInt64(x) * UInt64(y)) >> 32),
            UInt32(truncatingIfNeeded: (Int64(sx) * Int64(sy)) >> 32),
            UInt32(abs(Int64(x & 0xFFFF) - Int64(y & 0xFFFF))) + 7,
            UInt32(truncatingIfNeeded: Int64(x & 0x3F_FFFF) * Int64(y & 0x7F_FFFF)),
            (x << s) ^ (x >> s) ^ UInt32(bitPattern: sx >> Int32(s)),
            UInt32(both.nonzeroBitCount),
            UInt32((UInt64(x) << UInt64(s)).leadingZeroBitCount),
            ffs64(UInt64(x) << 32 | UInt64(y & 0xFF_F000)),
            UInt32(truncatingIfNeeded: reversed >> 32) ^ UInt32(truncatingIfNeeded: reversed),
            x / (y | 1) &+ x % (y | 1),
            UInt32(bitPattern: signedDivMod),
        ]
    }

    @Test func bitIntrinsics() throws {
        let harness = SimHarness()
        let kernel = try harness.load("bits.cu", .fatbinUncompressed).kernel(named: "bits32")
        let n = 1024
        var random = SplitMix64(seed: 9)
        let specials: [UInt32] = [0, 1, 0xFFFF_FFFF, 0x8000_0000, 0x7FFF_FFFF, 0x1234_5678, 0xF0F0_0F0F, 31, 32, 33]
        var x = (0..<n).map { i in i < specials.count ? specials[i] : UInt32(truncatingIfNeeded: random.next()) }
        var y = (0..<n).map { i in i < specials.count ? specials[(i + 3) % specials.count] : UInt32(truncatingIfNeeded: random.next()) }
        for i in 0..<n where x[i] == 0x8000_0000 && y[i] | 1 == 0xFFFF_FFFF { y[i] = 5 }  // INT_MIN / -1 is undefined
        x[n - 1] = 0x8000_0000
        let dx = try harness.upload(x), dy = try harness.upload(y)
        let outputs = 23
        let out = try harness.zeros(UInt32.self, count: n * outputs)
        try harness.run(kernel, grid: Dim3(UInt32(n / 256)), block: Dim3(256), arg(dx), arg(dy), arg(out), arg(Int32(n)))
        let got = try harness.download(out, count: n * outputs, as: UInt32.self)
        let names = ["__popc", "__clz", "__brev", "__byte_perm", "__funnelshift_l", "__funnelshift_r", "__funnelshift_lc",
                     "__funnelshift_rc", "__ffs", "bfe.u32", "bfe.s32", "bfi", "__umulhi", "__mulhi", "__usad", "__mul24",
                     "shifts", "__popcll", "__clzll", "__ffsll", "__brevll", "unsigned div/rem", "signed div/rem"]
        var failures = 0
        for i in 0..<n {
            let expected = Self.bitsReference(x[i], y[i])
            for k in 0..<outputs where got[k * n + i] != expected[k] && failures < 20 {
                failures += 1
                Issue.record("\(names[k])(0x\(String(x[i], radix: 16)), 0x\(String(y[i], radix: 16))) = 0x\(String(got[k * n + i], radix: 16)), expected 0x\(String(expected[k], radix: 16))")
            }
        }
    }
}
