#if canImport(Glibc)
import Glibc
#endif

/// Half-precision operations (`Inst.imm` of an `.half` instruction).
enum HalfOp: UInt8 {
    case add, sub, mul, fma, min, max, abs, neg, ex2, tanh
}

/// The 16-bit floating-point formats: IEEE binary16 and bfloat16.
enum HalfFormat {
    case f16, bf16

    /// Stored significand bits, smallest normal exponent, largest exponent.
    var mantissaBits: Int { self == .f16 ? 10 : 7 }
    var minExponent: Int { self == .f16 ? -14 : -126 }
    var maxExponent: Int { self == .f16 ? 15 : 127 }
    var largestFinite: Double { Double(sign: .plus, exponent: maxExponent, significand: 2 - Double(sign: .plus, exponent: -mantissaBits, significand: 1)) }
    var canonicalNaN: UInt16 { 0x7FFF }

    /// The value of a 16-bit pattern, exactly.
    @inline(__always)
    func decode(_ bits: UInt16) -> Double {
        switch self {
        case .f16: return Double(Float16(bitPattern: bits))
        case .bf16: return Double(Float(bitPattern: UInt32(bits) << 16))
        }
    }

    @inline(__always)
    func isSubnormal(_ bits: UInt16) -> Bool {
        switch self {
        case .f16: return Float16(bitPattern: bits).isSubnormal
        case .bf16: return Float(bitPattern: UInt32(bits) << 16).isSubnormal
        }
    }

    /// Rounds `value` (plus a tiny `tail` below its last bit, from an exact two-sum) to this format under
    /// PTX rounding `mode` (`.rn` when none), with IEEE overflow rules.
    func encode(_ value: Double, tail: Double = 0, mode: Rounding = .rn) -> UInt16 {
        if value.isNaN { return canonicalNaN }
        var x = value
        // The tail only decides ties and directed roundings: nudging by one double ulp toward it keeps the
        // result exact, since the format has far fewer bits than a double.
        if tail > 0 { x = x.nextUp } else if tail < 0 { x = x.nextDown }
        if x.isInfinite || x == 0 { return pack(x) }
        let negative = x < 0
        let magnitude = Swift.abs(x)
        let exponent = Swift.max(Int(magnitude.exponent), minExponent)
        let quantum = Double(sign: .plus, exponent: exponent - mantissaBits, significand: 1)
        let steps = magnitude / quantum  // exact: a power-of-two scaling
        let rule: FloatingPointRoundingRule
        switch mode {
        case .rz, .rzi: rule = .towardZero
        case .rm, .rmi: rule = negative ? .up : .down
        case .rp, .rpi: rule = negative ? .down : .up
        case .rna: rule = .toNearestOrAwayFromZero
        default: rule = .toNearestOrEven
        }
        var r = steps.rounded(rule) * quantum
        if r > largestFinite {
            switch rule {
            case .towardZero, .down: r = largestFinite
            default: r = .infinity
            }
        }
        return pack(negative ? -r : r)
    }

    /// The pattern of a value already representable in this format.
    @inline(__always)
    func pack(_ v: Double) -> UInt16 {
        switch self {
        case .f16: return Float16(v).bitPattern
        case .bf16: return UInt16(truncatingIfNeeded: Float(v).bitPattern >> 16)
        }
    }
}

extension BlockExecutor {
    /// `add`/`sub`/`mul`/`fma`/`min`/`max`/`abs`/`neg`/`ex2`/`tanh` on f16, bf16, f16x2 and bf16x2: each half is
    /// computed exactly in double arithmetic and rounded once to its format.
    func halfOp(_ ins: Inst, _ m: UInt32, _ d: Lanes, _ a: Lanes, _ b: Lanes, _ c: Lanes) {
        let format: HalfFormat = ins.type == .f16 || ins.type == .f16x2 ? .f16 : .bf16
        let pairs = ins.type == .f16x2 || ins.type == .bf16x2
        let op = HalfOp(rawValue: UInt8(truncatingIfNeeded: ins.imm))!
        let rounding = Rounding(rawValue: ins.mode) ?? .rn
        let ftz = ins.flags & InstFlags.ftz != 0
        let sat = ins.flags & InstFlags.sat != 0
        let relu = ins.flags & InstFlags.relu != 0
        let nanPropagating = ins.flags & InstFlags.propagateNaN != 0
        let xorsign = ins.flags & InstFlags.xorSign != 0

        @inline(__always) func input(_ bits: UInt16) -> Double {
            if ftz && format.isSubnormal(bits) { return bits & 0x8000 != 0 ? -0.0 : 0.0 }
            return format.decode(bits)
        }
        @inline(__always) func one(_ xa: UInt16, _ xb: UInt16, _ xc: UInt16) -> UInt16 {
            let x = input(xa), y = input(xb), z = input(xc)
            var hi: Double, lo: Double = 0
            switch op {
            case .add: (hi, lo) = twoSum(x, y)
            case .sub: (hi, lo) = twoSum(x, -y)
            case .mul: hi = x * y  // at most 2 × 11 significant bits: exact
            case .fma: (hi, lo) = twoSum(x * y, z)
            case .abs:
                // abs/neg touch only the sign bit, NaNs included.
                return xa & 0x7FFF
            case .neg:
                return xa ^ 0x8000
            case .min, .max:
                if x.isNaN || y.isNaN {
                    if nanPropagating || (x.isNaN && y.isNaN) { return format.canonicalNaN }
                    let r = x.isNaN ? xb : xa
                    return xorsign ? (r & 0x7FFF) | ((xa ^ xb) & 0x8000) : r
                }
                // -0 is below +0 for min and max, as PTX specifies.
                let pickA: Bool
                if x == y { pickA = op == .min ? (xa & 0x8000 != 0) : (xa & 0x8000 == 0) } else { pickA = op == .min ? x < y : x > y }
                var r = pickA ? xa : xb
                if ftz && format.isSubnormal(r) { r &= 0x8000 }
                if xorsign { r = (r & 0x7FFF) | ((xa ^ xb) & 0x8000) }
                if relu && format.decode(r) < 0 { r = 0 }
                return r
            case .ex2: hi = exp2(x)
            case .tanh: hi = Glibc.tanh(x)
            }
            if hi.isNaN { return format.canonicalNaN }
            if sat { if hi < 0 || (hi == 0 && lo < 0) { hi = 0; lo = 0 } else if hi > 1 || (hi == 1 && lo > 0) { hi = 1; lo = 0 } }
            if relu && (hi < 0 || (hi == 0 && lo < 0)) { return 0 }
            let approxMode: Rounding = op == .ex2 || op == .tanh ? .rn : rounding
            var r = format.encode(hi, tail: lo, mode: approxMode)
            if ftz && format.isSubnormal(r) { r &= 0x8000 }
            return r
        }
        forLanes(m) { l in
            let va = a[l], vb = b[l], vc = c[l]
            let low = one(UInt16(truncatingIfNeeded: va), UInt16(truncatingIfNeeded: vb), UInt16(truncatingIfNeeded: vc))
            if pairs {
                let high = one(UInt16(truncatingIfNeeded: va >> 16), UInt16(truncatingIfNeeded: vb >> 16), UInt16(truncatingIfNeeded: vc >> 16))
                d[l] = UInt64(high) << 16 | UInt64(low)
            } else {
                d[l] = UInt64(low)
            }
        }
    }

    /// `setp`/`set` on f16, bf16 and their pairs: per half, the lower half's result goes to the first
    /// destination, the upper half's to the second (`p|q`), as the PTX ISA defines.
    func halfCompare(_ ins: Inst, _ m: UInt32, _ R: Lanes, _ P: UnsafeMutablePointer<UInt32>) {
        let a = R + Int(ins.a) &<< 5, b = R + Int(ins.b) &<< 5
        let format: HalfFormat = ins.type2 == .f16 || ins.type2 == .f16x2 ? .f16 : .bf16
        let pairs = ins.type2 == .f16x2 || ins.type2 == .bf16x2
        let ftz = ins.flags & InstFlags.ftz != 0
        @inline(__always) func value(_ bits: UInt16) -> Double {
            if ftz && format.isSubnormal(bits) { return 0 }
            return format.decode(bits)
        }
        @inline(__always) func test(_ x: UInt64, _ y: UInt64, _ shift: UInt64) -> Bool {
            let p = value(UInt16(truncatingIfNeeded: x >> shift)), q = value(UInt16(truncatingIfNeeded: y >> shift))
            return compareDoubles(p, q, Comparison(rawValue: ins.mode)!)
        }
        var lowBits: UInt32 = 0, highBits: UInt32 = 0
        forLanes(m) { l in
            if test(a[l], b[l], 0) { lowBits |= 1 << l }
            if pairs && test(a[l], b[l], 16) { highBits |= 1 << l }
        }
        if ins.op == .hset {
            // `set`: 1.0 (floating destination) or all ones (integer destination) per true comparison.
            let d = R + Int(ins.d) &<< 5
            let one: UInt64
            switch ins.type {
            case .f16, .f16x2: one = 0x3C00
            case .bf16, .bf16x2: one = 0x3F80
            case .f32: one = UInt64(Float(1).bitPattern)
            default: one = pairs || ins.type.bytes == 2 ? 0xFFFF : 0xFFFF_FFFF
            }
            forLanes(m) { l in
                var r: UInt64 = (lowBits >> l) & 1 != 0 ? one : 0
                if pairs && (highBits >> l) & 1 != 0 { r |= one << 16 }
                d[l] = r
            }
            return
        }
        var first = lowBits, second = pairs ? highBits : ~lowBits & m
        if ins.e > 0 {
            var cp = P[Int(ins.c)]
            if ins.flags & InstFlags.negateC != 0 { cp = ~cp }
            switch ins.e {
            case 1: first &= cp; second &= cp
            case 2: first |= cp; second |= cp
            default: first ^= cp; second ^= cp
            }
        }
        P[Int(ins.d)] = (P[Int(ins.d)] & ~m) | (first & m)
        if ins.d2 >= 0 { P[Int(ins.d2)] = (P[Int(ins.d2)] & ~m) | (second & m) }
    }

    /// `cvt` with a half-precision source or destination (including the packing `cvt.rn.f16x2.f32 d, a, b`,
    /// which puts `a` in the upper half).
    func halfConvert(_ ins: Inst, _ m: UInt32, _ d: Lanes, _ a: Lanes, _ b: Lanes) {
        let to = ins.type, from = ins.type2
        let rounding = Rounding(rawValue: ins.mode) ?? .none
        let sat = ins.flags & InstFlags.sat != 0
        let relu = ins.flags & InstFlags.relu != 0
        let ftz = ins.flags & InstFlags.ftz != 0
        @inline(__always) func read(_ x: UInt64, _ type: ScalarType) -> Double {
            switch type {
            case .f16: return HalfFormat.f16.decode(UInt16(truncatingIfNeeded: x))
            case .bf16: return HalfFormat.bf16.decode(UInt16(truncatingIfNeeded: x))
            case .f32:
                let f = f32(x)
                return Double(ftz ? flush(f) : f)
            case .f64: return f64(x)
            default:
                let v = extend(x, type)
                return type.isSigned ? Double(Int64(bitPattern: v)) : Double(v)
            }
        }
        @inline(__always) func toHalf(_ v: Double, _ format: HalfFormat) -> UInt16 {
            var v = v
            if v.isNaN { return format.canonicalNaN }
            switch rounding {
            case .rni: v = v.rounded(.toNearestOrEven)
            case .rzi: v = v.rounded(.towardZero)
            case .rmi: v = v.rounded(.down)
            case .rpi: v = v.rounded(.up)
            default: break
            }
            if sat { v = Swift.min(Swift.max(v, 0), 1) }
            if relu && v < 0 { v = 0 }
            let mode: Rounding = rounding == .none || rounding == .rni || rounding == .rzi || rounding == .rmi || rounding == .rpi ? .rn : rounding
            return format.encode(v, mode: mode)
        }
        let toFormat: HalfFormat? = to == .f16 || to == .f16x2 ? .f16 : (to == .bf16 || to == .bf16x2 ? .bf16 : nil)
        forLanes(m) { l in
            if to == .f16x2 || to == .bf16x2 {
                let hi = toHalf(read(a[l], from), toFormat!), lo = toHalf(read(b[l], from), toFormat!)
                d[l] = UInt64(hi) << 16 | UInt64(lo)
                return
            }
            let v = read(a[l], from)
            if let toFormat {
                d[l] = UInt64(toHalf(v, toFormat))
                return
            }
            // Half → f32/f64 is exact; half → integer uses the integer path's rounding and clamping.
            switch to {
            case .f32: d[l] = bits(Float(v))
            case .f64: d[l] = bits(v)
            default:
                var r = v
                if r.isNaN { d[l] = 0; return }
                switch rounding {
                case .rni, .rn: r = r.rounded(.toNearestOrEven)
                case .rmi, .rm: r = r.rounded(.down)
                case .rpi, .rp: r = r.rounded(.up)
                default: r = r.rounded(.towardZero)
                }
                switch to {
                case .s8: d[l] = extend(UInt64(bitPattern: Int64(Int8(clampingDouble: r))), .s8)
                case .s16: d[l] = extend(UInt64(bitPattern: Int64(Int16(clampingDouble: r))), .s16)
                case .s32: d[l] = extend(UInt64(bitPattern: Int64(Int32(clampingDouble: r))), .u32)
                case .s64: d[l] = UInt64(bitPattern: Int64(clampingDouble: r))
                case .u8, .b8: d[l] = UInt64(UInt8(clampingDouble: r))
                case .u16, .b16: d[l] = UInt64(UInt16(clampingDouble: r))
                case .u32, .b32: d[l] = UInt64(UInt32(clampingDouble: r))
                default: d[l] = UInt64(clampingDouble: r)
                }
            }
        }
    }
}

/// Exact sum: `hi + lo == x + y` with `hi` the rounded sum (Knuth's two-sum).
@inline(__always)
func twoSum(_ x: Double, _ y: Double) -> (Double, Double) {
    let s = x + y
    if !s.isFinite { return (s, 0) }
    let bv = s - x
    let av = s - bv
    return (s, (x - av) + (y - bv))
}

@inline(__always)
func compareDoubles(_ p: Double, _ q: Double, _ cmp: Comparison) -> Bool {
    let unordered = p.isNaN || q.isNaN
    switch cmp {
    case .eq: return !unordered && p == q
    case .ne: return !unordered && p != q
    case .lt: return !unordered && p < q
    case .le: return !unordered && p <= q
    case .gt: return !unordered && p > q
    case .ge: return !unordered && p >= q
    case .equ: return unordered || p == q
    case .neu: return unordered || p != q
    case .ltu: return unordered || p < q
    case .leu: return unordered || p <= q
    case .gtu: return unordered || p > q
    case .geu: return unordered || p >= q
    case .num: return !unordered
    case .nan: return unordered
    default: return false
    }
}
