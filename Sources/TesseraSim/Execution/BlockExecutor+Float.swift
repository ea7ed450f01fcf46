import CTesseraSimSupport
#if canImport(Glibc)
import Glibc
#endif

extension BlockExecutor {
    /// Floating-point arithmetic in f32, f64 or f16, honouring `.ftz`, `.sat` and directed rounding.
    @inline(__always)
    func floatOp(_ ins: Inst, _ m: UInt32, _ d: Lanes, _ a: Lanes, _ b: Lanes, _ c: Lanes) {
        let rounding = Rounding(rawValue: ins.mode) ?? .none
        let directed = rounding == .rz || rounding == .rm || rounding == .rp
        let ftz = ins.flags & InstFlags.ftz != 0
        let sat = ins.flags & InstFlags.sat != 0
        // Common cases with the operation hoisted out of the lane loop.
        if !directed && !ftz && !sat {
            if ins.type == .f32 {
                switch ins.op {
                case .fadd: forLanes(m) { d[$0] = bits(f32(a[$0]) + f32(b[$0])) }; return
                case .fsub: forLanes(m) { d[$0] = bits(f32(a[$0]) - f32(b[$0])) }; return
                case .fmul: forLanes(m) { d[$0] = bits(f32(a[$0]) * f32(b[$0])) }; return
                case .ffma: forLanes(m) { d[$0] = bits(fmaf(f32(a[$0]), f32(b[$0]), f32(c[$0]))) }; return
                default: break
                }
            } else if ins.type == .f64 {
                switch ins.op {
                case .fadd: forLanes(m) { d[$0] = bits(f64(a[$0]) + f64(b[$0])) }; return
                case .fsub: forLanes(m) { d[$0] = bits(f64(a[$0]) - f64(b[$0])) }; return
                case .fmul: forLanes(m) { d[$0] = bits(f64(a[$0]) * f64(b[$0])) }; return
                case .ffma: forLanes(m) { d[$0] = bits(fma(f64(a[$0]), f64(b[$0]), f64(c[$0]))) }; return
                default: break
                }
            }
        }
        switch ins.type {
        case .f64:
            forLanes(m) { l in
                let x = f64(a[l]), y = f64(b[l]), z = f64(c[l])
                var r: Double
                if directed, let op = directedOpcode(ins.op) {
                    r = tsim_round_f64(op, roundingCode(rounding), x, y, z)
                } else {
                    switch ins.op {
                    case .fadd: r = x + y
                    case .fsub: r = x - y
                    case .fmul: r = x * y
                    case .ffma: r = fma(x, y, z)
                    case .fdiv: r = x / y
                    case .fmin: r = Double.minimum(x, y)
                    case .fmax: r = Double.maximum(x, y)
                    case .fabs: r = Swift.abs(x)
                    case .fneg: r = -x
                    case .fsqrt: r = x.squareRoot()
                    case .frsqrt: r = 1 / x.squareRoot()
                    case .frcp: r = 1 / x
                    case .fex2: r = exp2(x)
                    case .flg2: r = log2(x)
                    case .fsin: r = sin(x)
                    case .fcos: r = cos(x)
                    case .ftanh: r = tanh(x)
                    case .copysign: r = Double(signOf: x, magnitudeOf: y)
                    default: r = .nan
                    }
                }
                if ftz { r = flush(r) }
                if sat { r = r.isNaN ? 0 : Swift.min(Swift.max(r, 0), 1) }
                d[l] = bits(r)
            }
        case .f16:
            forLanes(m) { l in
                let x = f16(a[l]), y = f16(b[l]), z = f16(c[l])
                var r: Float
                switch ins.op {
                case .fadd: r = x + y
                case .fsub: r = x - y
                case .fmul: r = x * y
                case .ffma: r = Float(Float16(Double(x) * Double(y) + Double(z)))
                case .fmin: r = Float.minimum(x, y)
                case .fmax: r = Float.maximum(x, y)
                case .fabs: r = Swift.abs(x)
                case .fneg: r = -x
                default: r = .nan
                }
                if sat { r = r.isNaN ? 0 : Swift.min(Swift.max(r, 0), 1) }
                d[l] = bits16(r)
            }
        default:
            forLanes(m) { l in
                var x = f32(a[l]), y = f32(b[l]), z = f32(c[l])
                if ftz { x = flush(x); y = flush(y); z = flush(z) }
                var r: Float
                if directed, let op = directedOpcode(ins.op) {
                    r = tsim_round_f32(op, roundingCode(rounding), x, y, z)
                } else {
                    switch ins.op {
                    case .fadd: r = x + y
                    case .fsub: r = x - y
                    case .fmul: r = x * y
                    case .ffma: r = fmaf(x, y, z)
                    case .fdiv: r = x / y
                    case .fmin: r = Float.minimum(x, y)
                    case .fmax: r = Float.maximum(x, y)
                    case .fabs: r = Swift.abs(x)
                    case .fneg: r = -x
                    case .fsqrt: r = x.squareRoot()
                    case .frsqrt: r = 1 / x.squareRoot()
                    case .frcp: r = 1 / x
                    case .fex2: r = exp2f(x)
                    case .flg2: r = log2f(x)
                    case .fsin: r = sinf(x)
                    case .fcos: r = cosf(x)
                    case .ftanh: r = tanhf(x)
                    case .copysign: r = Float(signOf: x, magnitudeOf: y)
                    default: r = .nan
                    }
                }
                if ftz { r = flush(r) }
                if sat { r = r.isNaN ? 0 : Swift.min(Swift.max(r, 0), 1) }
                d[l] = bits(r)
            }
        }
    }

    @inline(__always)
    func directedOpcode(_ op: Op) -> Int32? {
        switch op {
        case .fadd: return 0
        case .fsub: return 1
        case .fmul: return 2
        case .ffma: return 3
        case .fdiv: return 4
        case .fsqrt: return 5
        default: return nil
        }
    }

    @inline(__always)
    func roundingCode(_ r: Rounding) -> Int32 {
        switch r {
        case .rz, .rzi: return 2
        case .rm, .rmi: return 3
        case .rp, .rpi: return 4
        default: return 1
        }
    }

    /// `cvt`: integer↔integer, integer↔float, float↔float with PTX's rounding and saturation rules.
    @inline(__always)
    func convert(_ x: UInt64, _ ins: Inst) -> UInt64 {
        let to = ins.type, from = ins.type2
        let rounding = Rounding(rawValue: ins.mode) ?? .none
        let sat = ins.flags & InstFlags.sat != 0
        if !to.isFloat && !from.isFloat {
            let v = extend(x, from)
            if sat { return saturateInteger(v, from: from, to: to) }
            return extend(v, to)
        }
        if from.isFloat && to.isFloat {
            var v: Double
            switch from {
            case .f64: v = f64(x)
            case .f16: v = Double(f16(x))
            case .bf16: v = Double(Float(bitPattern: UInt32(truncatingIfNeeded: x & 0xFFFF) << 16))
            default: v = Double(f32(x))
            }
            if ins.flags & InstFlags.ftz != 0 && from == .f32 { v = Double(flush(Float(v))) }
            switch rounding {
            case .rni: v = v.rounded(.toNearestOrEven)
            case .rzi: v = v.rounded(.towardZero)
            case .rmi: v = v.rounded(.down)
            case .rpi: v = v.rounded(.up)
            default: break
            }
            if sat { v = v.isNaN ? 0 : Swift.min(Swift.max(v, 0), 1) }
            switch to {
            case .f64: return bits(v)
            case .f16: return UInt64(Float16(v).bitPattern)
            case .bf16:
                let f = Float(v)
                let u = f.bitPattern
                if f.isNaN { return 0x7FC0 }
                let rounded = u &+ 0x7FFF &+ ((u >> 16) & 1)
                return UInt64(rounded >> 16)
            default:
                var f: Float
                if from == .f64 && (rounding == .rz || rounding == .rm || rounding == .rp) {
                    f = tsim_f64_to_f32(roundingCode(rounding), v)
                } else {
                    f = Float(v)
                }
                if ins.flags & InstFlags.ftz != 0 { f = flush(f) }
                return bits(f)
            }
        }
        if from.isFloat {
            // Float → integer: round as asked, NaN → 0, saturate to the destination range.
            var v: Double
            switch from {
            case .f64: v = f64(x)
            case .f16: v = Double(f16(x))
            default: v = Double(f32(x))
            }
            if v.isNaN { return 0 }
            switch rounding {
            case .rni, .rn: v = v.rounded(.toNearestOrEven)
            case .rmi, .rm: v = v.rounded(.down)
            case .rpi, .rp: v = v.rounded(.up)
            default: v = v.rounded(.towardZero)
            }
            switch to {
            case .s8: return extend(UInt64(bitPattern: Int64(Int8(clampingDouble: v))), .s8)
            case .s16: return extend(UInt64(bitPattern: Int64(Int16(clampingDouble: v))), .s16)
            case .s32: return extend(UInt64(bitPattern: Int64(Int32(clampingDouble: v))), .u32)
            case .s64: return UInt64(bitPattern: Int64(clampingDouble: v))
            case .u8, .b8: return UInt64(UInt8(clampingDouble: v))
            case .u16, .b16: return UInt64(UInt16(clampingDouble: v))
            case .u32, .b32: return UInt64(UInt32(clampingDouble: v))
            default: return UInt64(clampingDouble: v)
            }
        }
        // Integer → float.
        let v = extend(x, from)
        let isUnsigned = !from.isSigned
        switch to {
        case .f64:
            if rounding == .rz || rounding == .rm || rounding == .rp {
                return bits(tsim_i64_to_f64(roundingCode(rounding), Int64(bitPattern: v), isUnsigned ? 1 : 0))
            }
            return bits(isUnsigned ? Double(v) : Double(Int64(bitPattern: v)))
        case .f16:
            return UInt64(Float16(isUnsigned ? Float(v) : Float(Int64(bitPattern: v))).bitPattern)
        default:
            if rounding == .rz || rounding == .rm || rounding == .rp {
                return bits(tsim_i64_to_f32(roundingCode(rounding), Int64(bitPattern: v), isUnsigned ? 1 : 0))
            }
            return bits(isUnsigned ? Float(v) : Float(Int64(bitPattern: v)))
        }
    }

    func saturateInteger(_ v: UInt64, from: ScalarType, to: ScalarType) -> UInt64 {
        let signedValue: Int64? = from.isSigned ? Int64(bitPattern: v) : (v > UInt64(Int64.max) ? nil : Int64(v))
        let lo: Int64, hi: Int64
        switch to {
        case .s8: (lo, hi) = (Int64(Int8.min), Int64(Int8.max))
        case .s16: (lo, hi) = (Int64(Int16.min), Int64(Int16.max))
        case .s32: (lo, hi) = (Int64(Int32.min), Int64(Int32.max))
        case .u8: (lo, hi) = (0, Int64(UInt8.max))
        case .u16: (lo, hi) = (0, Int64(UInt16.max))
        case .u32: (lo, hi) = (0, Int64(UInt32.max))
        case .s64: (lo, hi) = (.min, .max)
        default:
            return from.isSigned && Int64(bitPattern: v) < 0 ? 0 : v
        }
        guard let s = signedValue else { return extend(UInt64(bitPattern: hi), to) }
        return extend(UInt64(bitPattern: Swift.min(Swift.max(s, lo), hi)), to)
    }
}

extension FixedWidthInteger {
    /// Converts a double already rounded to an integral value, clamping to the type's range.
    @inline(__always)
    init(clampingDouble v: Double) {
        if v <= Double(Self.min) { self = .min }
        else if v >= Double(Self.max) { self = .max }
        else { self = Self(v) }
    }
}
