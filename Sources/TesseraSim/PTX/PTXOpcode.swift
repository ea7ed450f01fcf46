/// The PTX opcodes the simulator lowers, each in the instruction family whose emitter handles it.
enum PTXOpcode: String, Sendable, CaseIterable {
    case mov, createpolicy
    case ld, ldu, st, atom, red, cvta, isspacep
    case cvt
    case add, sub, mul, mad, fma, div, rem, min, max, abs, neg, sad, mul24, mad24, addc, subc, madc
    case and, or, xor, not, cnot, shl, shr
    case popc, clz, brev, bfind, bfe, bfi, prmt, shf, lop3, dp4a, dp2a
    case sqrt, rsqrt, rcp, ex2, lg2, sin, cos, tanh, copysign, testp
    case setp, set, selp, slct
    case bra, brx, ret, exit, call, trap
    case bar, barrier, membar, fence, nanosleep, prefetch, prefetchu, pmevent, discard, applypriority, griddepcontrol
    case shfl, vote, activemask, match, redux

    /// Instruction families: one emitter each.
    enum Family: Sendable {
        case move, memory, conversion, arithmetic, logic, bits, floatFunction, comparison, control, synchronization, warp
    }

    var family: Family {
        switch self {
        case .mov, .createpolicy: .move
        case .ld, .ldu, .st, .atom, .red, .cvta, .isspacep: .memory
        case .cvt: .conversion
        case .add, .sub, .mul, .mad, .fma, .div, .rem, .min, .max, .abs, .neg, .sad, .mul24, .mad24, .addc, .subc, .madc: .arithmetic
        case .and, .or, .xor, .not, .cnot, .shl, .shr: .logic
        case .popc, .clz, .brev, .bfind, .bfe, .bfi, .prmt, .shf, .lop3, .dp4a, .dp2a: .bits
        case .sqrt, .rsqrt, .rcp, .ex2, .lg2, .sin, .cos, .tanh, .copysign, .testp: .floatFunction
        case .setp, .set, .selp, .slct: .comparison
        case .bra, .brx, .ret, .exit, .call, .trap: .control
        case .bar, .barrier, .membar, .fence, .nanosleep, .prefetch, .prefetchu, .pmevent, .discard, .applypriority, .griddepcontrol: .synchronization
        case .shfl, .vote, .activemask, .match, .redux: .warp
        }
    }
}

/// An instruction's modifiers, classified once: its types, rounding, comparison, state space, atomic
/// operation and the boolean flags the emitters test. Modifiers that change nothing in the simulator
/// (`.sync`, memory-ordering scopes, cache hints) are kept only in `raw`.
struct PTXModifiers: Sendable {
    /// Boolean modifiers that select a behaviour.
    enum Flag: String, Sendable, CaseIterable {
        case ftz, sat, approx, relu, NaN, xorsign, cc, hi, lo, wide, wrap, shiftamt, to
        case warp, arrive, red, popc, and, or, xor, all, any, uni, ballot
        case up, down, bfly, idx, r, l
        case f4e, b4e, rc8, ecl, ecr, rc16
        case finite, infinite, number, notanumber, normal, subnormal
    }

    let raw: [String]
    /// Every type modifier, in order (`cvt.f32.s32` has two).
    let types: [ScalarType]
    let rounding: Rounding?
    let comparison: Comparison?
    /// The first state-space modifier (`.const` reads as global memory); generic when none.
    let space: MemorySpace
    let atomic: AtomicOp?
    private let flags: Set<Flag>

    init(_ raw: [String]) {
        self.raw = raw
        types = raw.compactMap(ScalarType.init)
        rounding = raw.lazy.compactMap(Rounding.init).first
        comparison = raw.lazy.compactMap(Comparison.init).first
        space = raw.lazy.compactMap(MemorySpace.init(modifier:)).first ?? .generic
        atomic = raw.lazy.compactMap(AtomicOp.init(modifier:)).first
        flags = Set(raw.compactMap(Flag.init))
    }

    /// The instruction's (last) type; `.b32` when it has none.
    var type: ScalarType { types.last ?? .b32 }

    func has(_ flag: Flag) -> Bool { flags.contains(flag) }

    /// Whether any raw modifier satisfies `predicate` (for families of modifiers such as `.v2`/`.v4`).
    func contains(where predicate: (String) -> Bool) -> Bool { raw.contains(where: predicate) }
}

extension MemorySpace {
    init?(modifier: String) {
        switch modifier {
        case "global", "const": self = .global
        case "shared": self = .shared
        case "local": self = .local
        case "param": self = .param
        default: return nil
        }
    }
}

extension AtomicOp {
    init?(modifier: String) {
        switch modifier {
        case "add": self = .add
        case "min": self = .min
        case "max": self = .max
        case "inc": self = .inc
        case "dec": self = .dec
        case "exch": self = .exch
        case "cas": self = .cas
        case "and": self = .and
        case "or": self = .or
        case "xor": self = .xor
        default: return nil
        }
    }
}
