import CTesseraSimSupport
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

@inline(__always) func lo32(_ x: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: x) }
@inline(__always) func s32(_ x: UInt64) -> Int32 { Int32(truncatingIfNeeded: x) }
@inline(__always) func lo16(_ x: UInt64) -> UInt16 { UInt16(truncatingIfNeeded: x) }
@inline(__always) func s16(_ x: UInt64) -> Int16 { Int16(truncatingIfNeeded: x) }
@inline(__always) func f32(_ x: UInt64) -> Float { Float(bitPattern: UInt32(truncatingIfNeeded: x)) }
@inline(__always) func f64(_ x: UInt64) -> Double { Double(bitPattern: x) }
@inline(__always) func bits(_ f: Float) -> UInt64 { UInt64(f.bitPattern) }
@inline(__always) func bits(_ d: Double) -> UInt64 { d.bitPattern }
@inline(__always) func u64(_ x: UInt32) -> UInt64 { UInt64(x) }
@inline(__always) func sx(_ x: Int32) -> UInt64 { UInt64(bitPattern: Int64(x)) }
@inline(__always) func flush(_ x: Float) -> Float { x.isSubnormal ? Float(signOf: x, magnitudeOf: 0) : x }
@inline(__always) func flush(_ x: Double) -> Double { x.isSubnormal ? Double(signOf: x, magnitudeOf: 0) : x }
@inline(__always) func f16(_ x: UInt64) -> Float { Float(Float16(bitPattern: UInt16(truncatingIfNeeded: x))) }
@inline(__always) func bits16(_ f: Float) -> UInt64 { UInt64(Float16(f).bitPattern) }

/// Sign- or zero-extends the low `bits` bits of `x` per `type`, as a value of the register file.
@inline(__always) func extend(_ x: UInt64, _ type: ScalarType) -> UInt64 {
    switch type {
    case .s8: return UInt64(bitPattern: Int64(Int8(truncatingIfNeeded: x)))
    case .s16: return UInt64(bitPattern: Int64(Int16(truncatingIfNeeded: x)))
    case .s32: return UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: x)))
    case .u8, .b8: return x & 0xFF
    case .u16, .b16, .f16, .bf16: return x & 0xFFFF
    case .u32, .b32, .f32, .f16x2, .bf16x2: return x & 0xFFFF_FFFF
    default: return x
    }
}

extension BlockExecutor {
    /// The most frequent integer instructions (address and index arithmetic), executed without entering
    /// `execute`, whose size makes each call costly. Returns false for anything else.
    @inline(__always)
    func simpleInteger(_ ins: Inst, _ m: UInt32, _ R: Lanes) -> Bool {
        guard ins.flags == 0 else { return false }
        let d = R + Int(ins.d) &<< 5
        switch (ins.op, ins.type.bytes) {
        case (.mov, _):
            let a = R + Int(ins.a) &<< 5
            forLanes(m) { d[$0] = a[$0] }
        case (.add, 4):
            let a = R + Int(ins.a) &<< 5, b = R + Int(ins.b) &<< 5
            forLanes(m) { d[$0] = u64(lo32(a[$0]) &+ lo32(b[$0])) }
        case (.add, 8):
            let a = R + Int(ins.a) &<< 5, b = R + Int(ins.b) &<< 5
            forLanes(m) { d[$0] = a[$0] &+ b[$0] }
        case (.sub, 4):
            let a = R + Int(ins.a) &<< 5, b = R + Int(ins.b) &<< 5
            forLanes(m) { d[$0] = u64(lo32(a[$0]) &- lo32(b[$0])) }
        case (.and, 4), (.and, 8):
            let a = R + Int(ins.a) &<< 5, b = R + Int(ins.b) &<< 5
            forLanes(m) { d[$0] = a[$0] & b[$0] }
        case (.shl, 4):
            let a = R + Int(ins.a) &<< 5, b = R + Int(ins.b) &<< 5
            forLanes(m) { l in
                let k = lo32(b[l])
                d[l] = k >= 32 ? 0 : u64(lo32(a[l]) &<< k)
            }
        case (.madLo, 4):
            let a = R + Int(ins.a) &<< 5, b = R + Int(ins.b) &<< 5, c = R + Int(ins.c) &<< 5
            forLanes(m) { d[$0] = u64(lo32(a[$0]) &* lo32(b[$0]) &+ lo32(c[$0])) }
        default:
            return false
        }
        return true
    }

    /// Executes one non-control instruction for the lanes in `m`.
    @inline(__always)
    func execute(_ ins: Inst, _ m: UInt32, _ R: Lanes, _ P: UnsafeMutablePointer<UInt32>, _ w: Int, _ s: inout WarpState) {
        // Absent operands are -1; point them at slot 0 so unary paths may read them harmlessly.
        let d = R + Int(max(ins.d, 0)) &<< 5
        let a = R + Int(max(ins.a, 0)) &<< 5
        let b = R + Int(max(ins.b, 0)) &<< 5
        let c = R + Int(max(ins.c, 0)) &<< 5
        let wide = ins.type.bytes == 8
        let half = ins.type.bytes <= 2
        switch ins.op {
        case .mov:
            forLanes(m) { d[$0] = a[$0] }
        case .add:
            if wide { forLanes(m) { d[$0] = a[$0] &+ b[$0] } }
            else if half { forLanes(m) { d[$0] = UInt64(lo16(a[$0]) &+ lo16(b[$0])) } }
            else if ins.flags & InstFlags.sat != 0 {
                forLanes(m) { l in
                    let r = Int64(s32(a[l])) + Int64(s32(b[l]))
                    d[l] = sx(Int32(clamping: r)) & 0xFFFF_FFFF
                }
            } else { forLanes(m) { d[$0] = u64(lo32(a[$0]) &+ lo32(b[$0])) } }
        case .sub:
            if wide { forLanes(m) { d[$0] = a[$0] &- b[$0] } }
            else if half { forLanes(m) { d[$0] = UInt64(lo16(a[$0]) &- lo16(b[$0])) } }
            else if ins.flags & InstFlags.sat != 0 {
                forLanes(m) { l in
                    let r = Int64(s32(a[l])) - Int64(s32(b[l]))
                    d[l] = sx(Int32(clamping: r)) & 0xFFFF_FFFF
                }
            } else { forLanes(m) { d[$0] = u64(lo32(a[$0]) &- lo32(b[$0])) } }
        case .mulLo:
            if wide { forLanes(m) { d[$0] = a[$0] &* b[$0] } }
            else if half { forLanes(m) { d[$0] = UInt64(lo16(a[$0]) &* lo16(b[$0])) } }
            else { forLanes(m) { d[$0] = u64(lo32(a[$0]) &* lo32(b[$0])) } }
        case .mulHi:
            forLanes(m) { d[$0] = mulHigh(a[$0], b[$0], ins.type) }
        case .mulWide:
            forLanes(m) { d[$0] = mulWide(a[$0], b[$0], ins.type) }
        case .madLo:
            if wide { forLanes(m) { d[$0] = a[$0] &* b[$0] &+ c[$0] } }
            else if half { forLanes(m) { d[$0] = UInt64(lo16(a[$0]) &* lo16(b[$0]) &+ lo16(c[$0])) } }
            else { forLanes(m) { d[$0] = u64(lo32(a[$0]) &* lo32(b[$0]) &+ lo32(c[$0])) } }
        case .madHi:
            forLanes(m) { l in d[l] = extend(mulHigh(a[l], b[l], ins.type) &+ c[l], ins.type) }
        case .madWide:
            forLanes(m) { d[$0] = mulWide(a[$0], b[$0], ins.type) &+ c[$0] }
        case .div, .rem:
            forLanes(m) { d[$0] = divide(a[$0], b[$0], ins.type, remainder: ins.op == .rem) }
        case .abs:
            forLanes(m) { l in
                switch ins.type.bytes {
                case 8: d[l] = UInt64(bitPattern: Int64(bitPattern: a[l]) == .min ? .min : Swift.abs(Int64(bitPattern: a[l])))
                case 2: d[l] = UInt64(UInt16(bitPattern: s16(a[l]) == .min ? .min : Swift.abs(s16(a[l]))))
                default: d[l] = u64(UInt32(bitPattern: s32(a[l]) == .min ? .min : Swift.abs(s32(a[l]))))
                }
            }
        case .neg:
            forLanes(m) { l in d[l] = extend(0 &- a[l], ins.type) }
        case .min, .max:
            let isMin = ins.op == .min
            forLanes(m) { l in
                let x = a[l], y = b[l]
                let less: Bool
                if ins.type.isSigned {
                    less = Int64(bitPattern: extend(x, ins.type)) < Int64(bitPattern: extend(y, ins.type))
                } else {
                    less = extend(x, ins.type) < extend(y, ins.type)
                }
                d[l] = extend((less == isMin) ? x : y, ins.type)
            }
        case .addCC, .addC, .subCC, .subC:
            let carry = R + Int(program!.carrySlot) &<< 5
            let useCarry = ins.op == .addC || ins.op == .subC
            let setCarry = ins.op == .addCC || ins.op == .subCC || ins.mode == 1
            let isSub = ins.op == .subCC || ins.op == .subC
            forLanes(m) { l in
                let cin: UInt64 = useCarry ? carry[l] & 1 : 0
                if wide {
                    let (r1, o1) = isSub ? a[l].subtractingReportingOverflow(b[l]) : a[l].addingReportingOverflow(b[l])
                    let (r2, o2) = isSub ? r1.subtractingReportingOverflow(cin) : r1.addingReportingOverflow(cin)
                    d[l] = r2
                    if setCarry { carry[l] = (o1 || o2) ? 1 : 0 }
                } else {
                    let x = UInt64(lo32(a[l])), y = UInt64(lo32(b[l]))
                    let r = isSub ? x &- y &- cin : x &+ y &+ cin
                    d[l] = r & 0xFFFF_FFFF
                    if setCarry { carry[l] = (r >> 32) & 1 }
                }
            }
        case .madLoCC, .madCLo, .madHiCC, .madCHi:
            let carry = R + Int(program!.carrySlot) &<< 5
            let useCarry = ins.op == .madCLo || ins.op == .madCHi
            let setCarry = ins.op == .madLoCC || ins.op == .madHiCC || ins.mode == 1
            let high = ins.op == .madHiCC || ins.op == .madCHi
            forLanes(m) { l in
                let cin: UInt64 = useCarry ? carry[l] & 1 : 0
                let p = high ? mulHigh(a[l], b[l], ins.type) : (wide ? a[l] &* b[l] : u64(lo32(a[l]) &* lo32(b[l])))
                if wide {
                    let (r1, o1) = p.addingReportingOverflow(c[l])
                    let (r2, o2) = r1.addingReportingOverflow(cin)
                    d[l] = r2
                    if setCarry { carry[l] = (o1 || o2) ? 1 : 0 }
                } else {
                    let r = (p & 0xFFFF_FFFF) &+ UInt64(lo32(c[l])) &+ cin
                    d[l] = r & 0xFFFF_FFFF
                    if setCarry { carry[l] = (r >> 32) & 1 }
                }
            }
        case .and:
            forLanes(m) { d[$0] = a[$0] & b[$0] }
        case .or:
            forLanes(m) { d[$0] = a[$0] | b[$0] }
        case .xor:
            forLanes(m) { d[$0] = a[$0] ^ b[$0] }
        case .not:
            forLanes(m) { l in d[l] = extend(~a[l], ins.type) }
        case .cnot:
            forLanes(m) { l in d[l] = extend(a[l], ins.type) == 0 ? 1 : 0 }
        case .shl where ins.type.bytes == 4:
            forLanes(m) { l in
                let k = lo32(b[l])
                d[l] = k >= 32 ? 0 : u64(lo32(a[l]) &<< k)
            }
        case .shl where wide:
            forLanes(m) { l in
                let k = UInt64(lo32(b[l]))
                d[l] = k >= 64 ? 0 : a[l] &<< k
            }
        case .shr where ins.type.bytes == 4:
            if ins.type.isSigned {
                forLanes(m) { l in d[l] = u64(UInt32(bitPattern: s32(a[l]) &>> Int32(Swift.min(lo32(b[l]), 31)))) }
            } else {
                forLanes(m) { l in
                    let k = lo32(b[l])
                    d[l] = k >= 32 ? 0 : u64(lo32(a[l]) &>> k)
                }
            }
        case .shl:
            let n = UInt64(ins.type.bits)
            forLanes(m) { l in
                let k = UInt64(lo32(b[l]))
                d[l] = k >= n ? 0 : extend(a[l] << k, ins.type == .s32 ? .u32 : (ins.type == .s16 ? .u16 : ins.type))
            }
        case .shr:
            let n = UInt64(ins.type.bits)
            forLanes(m) { l in
                let k = min(UInt64(lo32(b[l])), n)
                if ins.type.isSigned {
                    let v = Int64(bitPattern: extend(a[l], ins.type))
                    d[l] = extend(UInt64(bitPattern: v >> Int64(min(k, 63))), ins.type)
                } else {
                    let v = extend(a[l], ins.type)
                    d[l] = k >= 64 ? 0 : v >> k
                }
            }
        case .popc:
            forLanes(m) { l in d[l] = UInt64(wide ? a[l].nonzeroBitCount : lo32(a[l]).nonzeroBitCount) }
        case .clz:
            forLanes(m) { l in d[l] = UInt64(wide ? a[l].leadingZeroBitCount : lo32(a[l]).leadingZeroBitCount) }
        case .brev:
            forLanes(m) { l in d[l] = wide ? reverseBits64(a[l]) : u64(reverseBits32(lo32(a[l]))) }
        case .bfind:
            forLanes(m) { l in
                let v = extend(a[l], ins.type)
                let n = ins.type.bits
                var pos: Int
                if ins.type.isSigned {
                    let x = Int64(bitPattern: v)
                    let y = x < 0 ? ~x : x
                    pos = y == 0 ? -1 : 63 - y.leadingZeroBitCount
                } else {
                    pos = v == 0 ? -1 : 63 - v.leadingZeroBitCount
                }
                if pos >= 0 && ins.flags & InstFlags.wrap != 0 { pos = n - 1 - pos }
                d[l] = pos < 0 ? 0xFFFF_FFFF : UInt64(pos)
            }
        case .bfe:
            forLanes(m) { l in d[l] = bitFieldExtract(a[l], UInt32(truncatingIfNeeded: b[l] & 0xFF), UInt32(truncatingIfNeeded: c[l] & 0xFF), ins.type) }
        case .bfi:
            let e = R + Int(ins.e) &<< 5
            let n = UInt64(ins.type.bits)
            forLanes(m) { l in
                let pos = UInt64(lo32(c[l]) & 0xFF), len = UInt64(lo32(e[l]) & 0xFF)
                var r = b[l]
                if len > 0 && pos < n {
                    let width = min(len, n - pos)
                    let mask: UInt64 = (width >= 64 ? .max : (UInt64(1) << width) - 1) << pos
                    r = (r & ~mask) | ((a[l] << pos) & mask)
                }
                d[l] = extend(r, ins.type)
            }
        case .prmt:
            forLanes(m) { l in d[l] = u64(permute(lo32(a[l]), lo32(b[l]), lo32(c[l]), ins.mode)) }
        case .shf:
            forLanes(m) { l in
                let lo = UInt64(lo32(a[l])), hi = UInt64(lo32(b[l]))
                var n = UInt64(lo32(c[l]))
                n = ins.flags & InstFlags.wrap != 0 ? n & 31 : min(n, 32)
                let both = (hi << 32) | lo
                d[l] = ins.mode == 0 ? ((both << n) >> 32) & 0xFFFF_FFFF : (both >> n) & 0xFFFF_FFFF
            }
        case .lop3:
            let lut = UInt8(truncatingIfNeeded: ins.imm)
            forLanes(m) { l in d[l] = u64(logic3(lo32(a[l]), lo32(b[l]), lo32(c[l]), lut)) }
        case .sad:
            forLanes(m) { l in
                let x = extend(a[l], ins.type), y = extend(b[l], ins.type)
                let diff: UInt64
                if ins.type.isSigned {
                    let (p, q) = (Int64(bitPattern: x), Int64(bitPattern: y))
                    diff = UInt64(bitPattern: p > q ? p - q : q - p)
                } else { diff = x > y ? x - y : y - x }
                d[l] = extend(c[l] &+ diff, ins.type)
            }
        case .mul24, .mad24:
            forLanes(m) { l in
                let x = ins.type.isSigned ? Int64(s32(a[l] << 8) >> 8) : Int64(lo32(a[l]) & 0xFF_FFFF)
                let y = ins.type.isSigned ? Int64(s32(b[l] << 8) >> 8) : Int64(lo32(b[l]) & 0xFF_FFFF)
                let p = UInt64(bitPattern: x &* y)
                var r = ins.mode == 1 ? (p >> 16) : p
                if ins.op == .mad24 { r = r &+ c[l] }
                d[l] = r & 0xFFFF_FFFF
            }
        case .dp4a, .dp2a:
            forLanes(m) { l in d[l] = u64(dotProduct(lo32(a[l]), lo32(b[l]), lo32(c[l]), ins)) }
        case .pAnd, .pOr, .pXor, .pNot, .pMov:
            var x = P[Int(ins.a)]
            if ins.flags & InstFlags.negateA != 0 { x = ~x }
            var r: UInt32
            switch ins.op {
            case .pAnd, .pOr, .pXor:
                var y = P[Int(ins.b)]
                if ins.flags & InstFlags.negateB != 0 { y = ~y }
                r = ins.op == .pAnd ? x & y : (ins.op == .pOr ? x | y : x ^ y)
            case .pNot: r = ~x
            default: r = x
            }
            P[Int(ins.d)] = (P[Int(ins.d)] & ~m) | (r & m)
        case .fadd, .fsub, .fmul, .ffma, .fdiv, .fmin, .fmax, .fabs, .fneg, .fsqrt, .frsqrt, .frcp, .fex2, .flg2, .fsin, .fcos, .ftanh, .copysign:
            floatOp(ins, m, d, a, b, c)
        case .half:
            halfOp(ins, m, d, a, b, c)
        case .cvtHalf:
            halfConvert(ins, m, d, a, b)
        case .hsetp, .hset:
            halfCompare(ins, m, R, P)
        case .set:
            // set.CmpOp.dtype.stype: all ones (integer) or 1.0f (f32) where the comparison holds.
            let one: UInt64 = ins.type == .f32 ? UInt64(Float(1).bitPattern) : extend(.max, ins.type)
            var cp: UInt32 = .max
            if ins.e > 0 {
                cp = P[Int(ins.c)]
                if ins.flags & InstFlags.negateC != 0 { cp = ~cp }
            }
            forLanes(m) { l in
                var t = compare(a[l], b[l], ins.type2, ins.mode)
                let q = (cp >> l) & 1 != 0
                switch ins.e {
                case 1: t = t && q
                case 2: t = t || q
                case 3: t = t != q
                default: break
                }
                d[l] = t ? one : 0
            }
        case .testp:
            var r: UInt32 = 0
            forLanes(m) { l in
                let isF64 = ins.type == .f64
                let x = isF64 ? f64(a[l]) : Double(f32(a[l]))
                let sub = isF64 ? f64(a[l]).isSubnormal : f32(a[l]).isSubnormal
                let t: Bool
                switch ins.mode {
                case 0: t = x.isFinite
                case 1: t = x.isInfinite
                case 2: t = !x.isNaN
                case 3: t = x.isNaN
                case 4: t = x.isNormal && !sub
                default: t = sub
                }
                if t { r |= 1 << l }
            }
            P[Int(ins.d)] = (P[Int(ins.d)] & ~m) | r
        case .setp:
            var r: UInt32 = 0
            switch (ins.type2, Comparison(rawValue: ins.mode)!) {
            case (.s32, .lt): forLanes(m) { l in if s32(a[l]) < s32(b[l]) { r |= 1 << l } }
            case (.s32, .ge): forLanes(m) { l in if s32(a[l]) >= s32(b[l]) { r |= 1 << l } }
            case (.s32, .gt): forLanes(m) { l in if s32(a[l]) > s32(b[l]) { r |= 1 << l } }
            case (.s32, .le): forLanes(m) { l in if s32(a[l]) <= s32(b[l]) { r |= 1 << l } }
            case (.s32, .eq), (.u32, .eq), (.b32, .eq): forLanes(m) { l in if lo32(a[l]) == lo32(b[l]) { r |= 1 << l } }
            case (.s32, .ne), (.u32, .ne), (.b32, .ne): forLanes(m) { l in if lo32(a[l]) != lo32(b[l]) { r |= 1 << l } }
            case (.u32, .lt), (.u32, .lo): forLanes(m) { l in if lo32(a[l]) < lo32(b[l]) { r |= 1 << l } }
            case (.u32, .ge), (.u32, .hs): forLanes(m) { l in if lo32(a[l]) >= lo32(b[l]) { r |= 1 << l } }
            case (.s64, .lt): forLanes(m) { l in if Int64(bitPattern: a[l]) < Int64(bitPattern: b[l]) { r |= 1 << l } }
            case (.s64, .ge): forLanes(m) { l in if Int64(bitPattern: a[l]) >= Int64(bitPattern: b[l]) { r |= 1 << l } }
            case (.u64, .lt), (.u64, .lo): forLanes(m) { l in if a[l] < b[l] { r |= 1 << l } }
            case (.u64, .ge), (.u64, .hs): forLanes(m) { l in if a[l] >= b[l] { r |= 1 << l } }
            default: forLanes(m) { l in if compare(a[l], b[l], ins.type2, ins.mode) { r |= 1 << l } }
            }
            var q = ~r & m
            if ins.e > 0 {
                var cp = P[Int(ins.c)]
                if ins.flags & InstFlags.negateC != 0 { cp = ~cp }
                switch ins.e {
                case 1: r &= cp; q &= cp
                case 2: r |= cp; q |= cp
                default: r ^= cp; q ^= cp
                }
            }
            P[Int(ins.d)] = (P[Int(ins.d)] & ~m) | (r & m)
            if ins.d2 >= 0 { P[Int(ins.d2)] = (P[Int(ins.d2)] & ~m) | (q & m) }
        case .selp:
            var p = P[Int(ins.c)]
            if ins.flags & InstFlags.negateC != 0 { p = ~p }
            forLanes(m) { l in d[l] = (p >> l) & 1 != 0 ? a[l] : b[l] }
        case .slct:
            forLanes(m) { l in
                let nonNegative = ins.type2 == .f32 ? !(f32(c[l]) < 0) && !f32(c[l]).isNaN || f32(c[l]) == 0 : s32(c[l]) >= 0
                d[l] = nonNegative ? a[l] : b[l]
            }
        case .cvt:
            // Integer widenings and narrowings dominate address arithmetic: no per-lane dispatch for them.
            if ins.flags & InstFlags.sat == 0 {
                switch (ins.type, ins.type2) {
                case (.u64, .s32), (.s64, .s32), (.b64, .s32), (.s32, .u64), (.s32, .s64), (.s32, .b64), (.s32, .u32), (.s32, .b32), (.s32, .s32):
                    forLanes(m) { d[$0] = sx(s32(a[$0])) }; return
                case (.u64, .u32), (.s64, .u32), (.u64, .b32), (.s64, .b32), (.u32, .u64), (.u32, .s64), (.u32, .b64), (.b32, .u64), (.b32, .s64), (.u32, .s32), (.u32, .u32), (.u32, .b32):
                    forLanes(m) { d[$0] = a[$0] & 0xFFFF_FFFF }; return
                case (.u64, .u64), (.u64, .s64), (.s64, .u64), (.s64, .s64):
                    forLanes(m) { d[$0] = a[$0] }; return
                default: break
                }
            }
            forLanes(m) { d[$0] = convert(a[$0], ins) }
        case .cvta:
            let toGeneric = ins.flags == 0
            let base: UInt64
            switch MemorySpace(rawValue: ins.space)! {
            case .shared: base = AddressSpace.sharedBase
            case .local: base = AddressSpace.localBase
            case .param: base = AddressSpace.paramBase
            default: base = 0
            }
            forLanes(m) { l in d[l] = toGeneric ? a[l] &+ base : (ins.type == .u32 ? (a[l] &- base) & 0xFFFF_FFFF : a[l] &- base) }
        case .isspacep:
            var r: UInt32 = 0
            forLanes(m) { l in
                let x = a[l]
                let t: Bool
                switch MemorySpace(rawValue: ins.space)! {
                case .shared: t = x >= AddressSpace.sharedBase && x < AddressSpace.sharedLimit
                case .local: t = x >= AddressSpace.localBase && x < AddressSpace.localLimit
                case .param: t = x >= AddressSpace.paramBase && x < AddressSpace.paramLimit
                default: t = x >= AddressSpace.globalBase
                }
                if t { r |= 1 << l }
            }
            P[Int(ins.d)] = (P[Int(ins.d)] & ~m) | r
        case .pack:
            let vs = program!.vectorSlots
            let n = Int(ins.count)
            let width = UInt64(ins.type.bits / n)
            forLanes(m) { l in
                var r: UInt64 = 0
                for i in 0..<n {
                    let part = R[Int(vs[Int(ins.e) + i]) &<< 5 + l] & (width >= 64 ? .max : (UInt64(1) << width) - 1)
                    r |= part << (UInt64(i) * width)
                }
                d[l] = r
            }
        case .unpack:
            let vs = program!.vectorSlots
            let n = Int(ins.count)
            let width = UInt64(ins.type.bits / n)
            let mask: UInt64 = width >= 64 ? .max : (UInt64(1) << width) - 1
            forLanes(m) { l in
                let v = a[l]
                for i in 0..<n { R[Int(vs[Int(ins.e) + i]) &<< 5 + l] = (v >> (UInt64(i) * width)) & mask }
            }
        case .ld:
            load(ins, m, R, w)
        case .st:
            store(ins, m, R, w)
        case .atom, .red:
            atomic(ins, m, R, w)
        case .fence:
            tsim_fence()
        case .shfl:
            shuffle(ins, m, R, P)
        case .vote:
            let mm = m & lo32(R[Int(ins.e) &<< 5 + m.trailingZeroBitCount])
            var p = P[Int(ins.a)]
            if ins.flags & InstFlags.negateA != 0 { p = ~p }
            let t = p & mm
            switch VoteMode(rawValue: ins.mode)! {
            case .ballot: forLanes(m) { d[$0] = u64(t) }
            case .all: P[Int(ins.d)] = (P[Int(ins.d)] & ~m) | (t == mm ? m : 0)
            case .any: P[Int(ins.d)] = (P[Int(ins.d)] & ~m) | (t != 0 ? m : 0)
            case .uni: P[Int(ins.d)] = (P[Int(ins.d)] & ~m) | ((t == 0 || t == mm) ? m : 0)
            }
        case .activemask:
            forLanes(m) { d[$0] = u64(s.active) }
        case .match:
            let mm = m & lo32(R[Int(ins.e) &<< 5 + m.trailingZeroBitCount])
            var pAll: UInt32 = 0
            forLanes(m) { l in
                var same: UInt32 = 0
                forLanes(mm) { k in if extend(a[k], ins.type) == extend(a[l], ins.type) { same |= 1 << k } }
                if ins.mode == 1 {
                    d[l] = same == mm ? u64(mm) : 0
                    if same == mm { pAll |= 1 << l }
                } else {
                    d[l] = u64(same)
                }
            }
            if ins.d2 >= 0 { P[Int(ins.d2)] = (P[Int(ins.d2)] & ~m) | pAll }
        case .redux:
            let mm = m & lo32(R[Int(ins.e) &<< 5 + m.trailingZeroBitCount])
            var acc: UInt32? = nil
            forLanes(mm) { l in
                let v = lo32(a[l])
                guard let x = acc else { acc = v; return }
                switch AtomicOp(rawValue: ins.mode)! {
                case .add: acc = x &+ v
                case .and: acc = x & v
                case .or: acc = x | v
                case .xor: acc = x ^ v
                case .min: acc = ins.type.isSigned ? UInt32(bitPattern: Swift.min(Int32(bitPattern: x), Int32(bitPattern: v))) : Swift.min(x, v)
                case .max: acc = ins.type.isSigned ? UInt32(bitPattern: Swift.max(Int32(bitPattern: x), Int32(bitPattern: v))) : Swift.max(x, v)
                default: break
                }
            }
            let r = u64(acc ?? 0)
            forLanes(m) { d[$0] = r }
        case .bra, .exit, .bar, .barRed, .trap, .nop, .movSpecialClock, .printf, .assertFail:
            break
        }
    }


    // MARK: Integer helpers

    @inline(__always)
    func mulHigh(_ x: UInt64, _ y: UInt64, _ t: ScalarType) -> UInt64 {
        switch t {
        case .s64: return UInt64(bitPattern: Int64(bitPattern: x).multipliedFullWidth(by: Int64(bitPattern: y)).high)
        case .u64, .b64: return x.multipliedFullWidth(by: y).high
        case .s32: return u64(UInt32(bitPattern: Int32((Int64(s32(x)) * Int64(s32(y))) >> 32)))
        case .s16: return UInt64(UInt16(bitPattern: Int16((Int32(s16(x)) * Int32(s16(y))) >> 16)))
        case .u16, .b16: return UInt64((UInt32(lo16(x)) * UInt32(lo16(y))) >> 16)
        default: return (UInt64(lo32(x)) * UInt64(lo32(y))) >> 32
        }
    }

    @inline(__always)
    func mulWide(_ x: UInt64, _ y: UInt64, _ t: ScalarType) -> UInt64 {
        switch t {
        case .s32: return UInt64(bitPattern: Int64(s32(x)) * Int64(s32(y)))
        case .s16: return u64(UInt32(bitPattern: Int32(s16(x)) * Int32(s16(y))))
        case .u16, .b16: return UInt64(UInt32(lo16(x)) * UInt32(lo16(y)))
        default: return UInt64(lo32(x)) * UInt64(lo32(y))
        }
    }

    @inline(__always)
    func divide(_ x: UInt64, _ y: UInt64, _ t: ScalarType, remainder: Bool) -> UInt64 {
        if t.isSigned {
            let p = Int64(bitPattern: extend(x, t)), q = Int64(bitPattern: extend(y, t))
            if q == 0 { return extend(remainder ? UInt64(bitPattern: p) : .max, t) }
            let r = remainder ? p.remainderReportingOverflow(dividingBy: q).partialValue : p.dividedReportingOverflow(by: q).partialValue
            return extend(UInt64(bitPattern: r), t == .s64 ? .s64 : (t == .s32 ? .u32 : .u16))
        }
        let p = extend(x, t), q = extend(y, t)
        if q == 0 { return remainder ? p : extend(.max, t) }
        return remainder ? p % q : p / q
    }

    @inline(__always)
    func bitFieldExtract(_ x: UInt64, _ pos: UInt32, _ len: UInt32, _ t: ScalarType) -> UInt64 {
        let n = UInt32(t.bits)
        let v = extend(x, t)
        if len == 0 { return 0 }
        let p = min(pos, n)
        let l = min(len, n)
        var field: UInt64 = p >= 64 ? 0 : v >> UInt64(p)
        if l < 64 { field &= (UInt64(1) << UInt64(l)) - 1 }
        if t.isSigned {
            // Sign bit: the field's top bit, or the source's sign when the field runs past the end.
            let signBitPos = min(p + l - 1, n - 1)
            let sign = (v >> UInt64(signBitPos)) & 1
            if sign != 0 && l < 64 { field |= ~((UInt64(1) << UInt64(min(l, n - min(p, n)))) - 1) }
            if p >= n { field = sign != 0 ? .max : 0 }
            return extend(field, t)
        }
        return field
    }

    @inline(__always)
    func reverseBits32(_ x: UInt32) -> UInt32 {
        var v = x
        v = ((v >> 1) & 0x5555_5555) | ((v & 0x5555_5555) << 1)
        v = ((v >> 2) & 0x3333_3333) | ((v & 0x3333_3333) << 2)
        v = ((v >> 4) & 0x0F0F_0F0F) | ((v & 0x0F0F_0F0F) << 4)
        return v.byteSwapped
    }

    @inline(__always)
    func reverseBits64(_ x: UInt64) -> UInt64 {
        (UInt64(reverseBits32(UInt32(truncatingIfNeeded: x))) << 32) | UInt64(reverseBits32(UInt32(truncatingIfNeeded: x >> 32)))
    }

    @inline(__always)
    func permute(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ mode: UInt8) -> UInt32 {
        let bytes = (UInt64(b) << 32) | UInt64(a)
        @inline(__always) func byte(_ i: UInt32) -> UInt32 { UInt32((bytes >> (UInt64(i & 7) * 8)) & 0xFF) }
        switch mode {
        case 0:
            var r: UInt32 = 0
            for i in 0..<4 {
                let sel = (c >> (UInt32(i) * 4)) & 0xF
                var v = byte(sel & 7)
                if sel & 8 != 0 { v = (v & 0x80) != 0 ? 0xFF : 0 }
                r |= v << (UInt32(i) * 8)
            }
            return r
        case 1:  // f4e: forward 4 extract
            let s = c & 3
            return byte(s) | byte(s + 1) << 8 | byte(s + 2) << 16 | byte(s + 3) << 24
        case 2:  // b4e: backward 4 extract
            let s = c & 3
            return byte(s) | byte(s &- 1) << 8 | byte(s &- 2) << 16 | byte(s &- 3) << 24
        case 3:  // rc8: replicate 8
            let v = byte(c & 3)
            return v | v << 8 | v << 16 | v << 24
        case 4:  // ecl: edge clamp left
            let s = c & 3
            return byte(s) | byte(max(s, 1)) << 8 | byte(max(s, 2)) << 16 | byte(3) << 24
        case 5:  // ecr: edge clamp right
            let s = c & 3
            return byte(0) | byte(min(s, 1)) << 8 | byte(min(s, 2)) << 16 | byte(s) << 24
        default:  // rc16: replicate 16
            let s = (c & 1) * 2
            let v = byte(s) | byte(s + 1) << 8
            return v | v << 16
        }
    }

    @inline(__always)
    func logic3(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ lut: UInt8) -> UInt32 {
        var r: UInt32 = 0
        for i in 0..<8 where (lut >> i) & 1 != 0 {
            r |= (i & 4 != 0 ? a : ~a) & (i & 2 != 0 ? b : ~b) & (i & 1 != 0 ? c : ~c)
        }
        return r
    }

    func dotProduct(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ ins: Inst) -> UInt32 {
        let sa = ins.type.isSigned, sb = ins.type2.isSigned
        var acc = Int64(Int32(bitPattern: c))
        if ins.op == .dp4a {
            for i in 0..<4 {
                let x = (a >> (UInt32(i) * 8)) & 0xFF, y = (b >> (UInt32(i) * 8)) & 0xFF
                acc += (sa ? Int64(Int8(truncatingIfNeeded: x)) : Int64(x)) * (sb ? Int64(Int8(truncatingIfNeeded: y)) : Int64(y))
            }
        } else {
            for i in 0..<2 {
                let x = (a >> (UInt32(i) * 16)) & 0xFFFF
                let y = (b >> (UInt32(i + (ins.mode == 1 ? 2 : 0)) * 8)) & 0xFF
                acc += (sa ? Int64(Int16(truncatingIfNeeded: x)) : Int64(x)) * (sb ? Int64(Int8(truncatingIfNeeded: y)) : Int64(y))
            }
        }
        return UInt32(truncatingIfNeeded: acc)
    }

    // MARK: Comparison

    @inline(__always)
    func compare(_ x: UInt64, _ y: UInt64, _ t: ScalarType, _ mode: UInt8) -> Bool {
        let cmp = Comparison(rawValue: mode)!
        if t.isFloat {
            let p: Double, q: Double
            switch t {
            case .f64: p = f64(x); q = f64(y)
            case .f16: p = Double(f16(x)); q = Double(f16(y))
            default: p = Double(f32(x)); q = Double(f32(y))
            }
            return compareDoubles(p, q, cmp)
        }
        if t.isSigned {
            let p = Int64(bitPattern: extend(x, t)), q = Int64(bitPattern: extend(y, t))
            switch cmp {
            case .eq: return p == q
            case .ne: return p != q
            case .lt, .lo: return p < q
            case .le, .ls: return p <= q
            case .gt, .hi: return p > q
            case .ge, .hs: return p >= q
            default: return false
            }
        }
        let width: ScalarType = t.bytes == 8 ? .u64 : (t.bytes == 4 ? .u32 : (t.bytes == 2 ? .u16 : .u8))
        let p = extend(x, width), q = extend(y, width)
        switch cmp {
        case .eq: return p == q
        case .ne: return p != q
        case .lt, .lo: return p < q
        case .le, .ls: return p <= q
        case .gt, .hi: return p > q
        case .ge, .hs: return p >= q
        default: return false
        }
    }
}
