/// A scalar PTX type as the interpreter uses it.
enum ScalarType: UInt8, Sendable {
    case u8, s8, u16, s16, u32, s32, u64, s64, b8, b16, b32, b64, f16, bf16, f32, f64, pred, f16x2, bf16x2, b128

    init?(_ name: String) {
        switch name {
        case "u8": self = .u8
        case "s8": self = .s8
        case "u16": self = .u16
        case "s16": self = .s16
        case "u32": self = .u32
        case "s32": self = .s32
        case "u64": self = .u64
        case "s64": self = .s64
        case "b8": self = .b8
        case "b16": self = .b16
        case "b32": self = .b32
        case "b64": self = .b64
        case "f16": self = .f16
        case "bf16": self = .bf16
        case "f32": self = .f32
        case "f64": self = .f64
        case "pred": self = .pred
        case "f16x2": self = .f16x2
        case "bf16x2": self = .bf16x2
        case "b128": self = .b128
        default: return nil
        }
    }

    var bytes: Int {
        switch self {
        case .u8, .s8, .b8, .pred: return 1
        case .u16, .s16, .b16, .f16, .bf16: return 2
        case .u32, .s32, .b32, .f32, .f16x2, .bf16x2: return 4
        case .u64, .s64, .b64, .f64: return 8
        case .b128: return 16
        }
    }

    var bits: Int { bytes * 8 }
    var isSigned: Bool { self == .s8 || self == .s16 || self == .s32 || self == .s64 }
    var isFloat: Bool { self == .f16 || self == .bf16 || self == .f32 || self == .f64 }
    /// f16, bf16 and their packed pairs: arithmetic, comparisons and conversions go through the half path.
    var isHalfPrecision: Bool { self == .f16 || self == .bf16 || self == .f16x2 || self == .bf16x2 }
}

/// Interpreter operations. Each is specialized at decode time by the instruction's type and mode fields.
enum Op: UInt8, Sendable {
    // Data movement
    case mov, movSpecialClock, pack, unpack, cvt, cvta
    // Integer
    case add, sub, mulLo, mulHi, mulWide, madLo, madHi, madWide, div, rem, abs, neg, min, max
    case addCC, addC, subCC, subC, madLoCC, madCLo, madHiCC, madCHi
    case and, or, xor, not, cnot, shl, shr, popc, clz, brev, bfe, bfi, bfind, prmt, shf, lop3, sad, mul24, mad24, dp4a, dp2a
    // Predicates (operands are predicate indices)
    case pAnd, pOr, pXor, pNot, pMov
    // Floating point
    case fadd, fsub, fmul, ffma, fdiv, fmin, fmax, fabs, fneg, fsqrt, frsqrt, frcp, fex2, flg2, fsin, fcos, ftanh, copysign, testp
    // Half precision (f16, bf16 and pairs): `imm` is the ``HalfOp``; conversions and comparisons with a half side
    case half, cvtHalf, hsetp, hset
    // Compare and select
    case setp, selp, slct, set
    // Memory
    case ld, st, atom, red, isspacep
    // Control
    case bra, exit, bar, barRed, trap, nop, fence
    // Calls the driver implements: vprintf and __assertfail (operands: call-site .param offsets in vectorSlots)
    case printf, assertFail
    // Warp
    case shfl, vote, activemask, match, redux
}

/// One decoded instruction. Operands are register-file slots (immediates and special registers have slots too),
/// or predicate indices where the operation takes predicates.
struct Inst: Sendable {
    var op: Op
    /// The specialised form the interpreter loop runs directly, or `.none` (set when the program is built).
    var fast: FastOp = .none
    var type: ScalarType = .b32
    /// Second type: the source type of `cvt`, the comparison type of `setp`/`slct`.
    var type2: ScalarType = .b32
    /// Operation-specific mode: comparison, rounding, shuffle mode, atomic op, state space.
    var mode: UInt8 = 0
    /// Operation-specific flags (see `InstFlags`).
    var flags: UInt16 = 0
    var guardPredicate: Int16 = -1
    var guardNegated = false
    /// Vector width of loads and stores.
    var count: UInt8 = 1
    /// State space of memory operations (`MemorySpace` raw value).
    var space: UInt8 = 0
    var d: Int32 = -1
    var a: Int32 = -1
    var b: Int32 = -1
    var c: Int32 = -1
    var e: Int32 = -1
    /// Second destination (predicate of `shfl`/`setp`), or -1.
    var d2: Int32 = -1
    /// Address offset, branch target, or immediate.
    var imm: Int64 = 0
    /// Source line in the PTX, for error messages.
    var line: Int32 = 0
}

enum InstFlags {
    static let ftz: UInt16 = 1
    static let sat: UInt16 = 2
    static let negateA: UInt16 = 4  // operand a is a negated predicate
    static let negateB: UInt16 = 8  // operand b (or c for selp) is a negated predicate
    static let approx: UInt16 = 16
    static let localFromParam: UInt16 = 32
    static let negateC: UInt16 = 64
    static let wrap: UInt16 = 128
    static let relu: UInt16 = 256  // clamp negative results to +0
    static let propagateNaN: UInt16 = 512  // min/max .NaN
    static let xorSign: UInt16 = 1024  // min/max .xorsign.abs
}

/// Comparison operators of `setp`, `set` and friends.
enum Comparison: UInt8 {
    case eq, ne, lt, le, gt, ge, lo, ls, hi, hs, equ, neu, ltu, leu, gtu, geu, num, nan

    init?(_ s: String) {
        switch s {
        case "eq": self = .eq
        case "ne": self = .ne
        case "lt": self = .lt
        case "le": self = .le
        case "gt": self = .gt
        case "ge": self = .ge
        case "lo": self = .lo
        case "ls": self = .ls
        case "hi": self = .hi
        case "hs": self = .hs
        case "equ": self = .equ
        case "neu": self = .neu
        case "ltu": self = .ltu
        case "leu": self = .leu
        case "gtu": self = .gtu
        case "geu": self = .geu
        case "num": self = .num
        case "nan": self = .nan
        default: return nil
        }
    }
}

/// Rounding modes of floating-point arithmetic and conversions.
enum Rounding: UInt8 {
    case none, rn, rz, rm, rp, rni, rzi, rmi, rpi, rna

    init?(_ s: String) {
        switch s {
        case "rn": self = .rn
        case "rz": self = .rz
        case "rm": self = .rm
        case "rp": self = .rp
        case "rni": self = .rni
        case "rzi": self = .rzi
        case "rmi": self = .rmi
        case "rpi": self = .rpi
        case "rna": self = .rna
        default: return nil
        }
    }
}

/// Atomic operations.
enum AtomicOp: UInt8 {
    case add, min, max, inc, dec, exch, cas, and, or, xor
}

/// Where a memory operation's address points.
enum MemorySpace: UInt8 {
    case generic, global, shared, local, param
}

/// Shuffle modes.
enum ShuffleMode: UInt8 { case up, down, bfly, idx }

/// Vote modes.
enum VoteMode: UInt8 { case all, any, uni, ballot }

/// Special registers initialized per warp.
enum SpecialRegister: UInt8, CaseIterable {
    case tidX, tidY, tidZ, ntidX, ntidY, ntidZ, ctaidX, ctaidY, ctaidZ, nctaidX, nctaidY, nctaidZ
    case laneid, warpid, nwarpid, smid, nsmid, gridid
    case lanemaskEq, lanemaskLt, lanemaskLe, lanemaskGt, lanemaskGe
    case dynamicSmemSize, totalSmemSize
    /// Driver environment registers: %envreg1:%envreg2 hold the grid workspace of a cooperative launch.
    case envreg1, envreg2, envregOther
    /// The block's reserved shared-memory window (cooperative groups keep their multi-warp scratch there).
    case reservedSmemBegin, reservedSmemEnd, reservedSmemCap, reservedSmemOffset0, reservedSmemOffset1

    var isReservedSharedMemory: Bool {
        switch self {
        case .reservedSmemBegin, .reservedSmemEnd, .reservedSmemCap, .reservedSmemOffset0, .reservedSmemOffset1: return true
        default: return false
        }
    }

    init?(_ name: String) {
        switch name {
        case "%tid.x": self = .tidX
        case "%tid.y": self = .tidY
        case "%tid.z": self = .tidZ
        case "%ntid.x": self = .ntidX
        case "%ntid.y": self = .ntidY
        case "%ntid.z": self = .ntidZ
        case "%ctaid.x": self = .ctaidX
        case "%ctaid.y": self = .ctaidY
        case "%ctaid.z": self = .ctaidZ
        case "%nctaid.x": self = .nctaidX
        case "%nctaid.y": self = .nctaidY
        case "%nctaid.z": self = .nctaidZ
        case "%laneid": self = .laneid
        case "%warpid": self = .warpid
        case "%nwarpid": self = .nwarpid
        case "%smid": self = .smid
        case "%nsmid": self = .nsmid
        case "%gridid": self = .gridid
        case "%lanemask_eq": self = .lanemaskEq
        case "%lanemask_lt": self = .lanemaskLt
        case "%lanemask_le": self = .lanemaskLe
        case "%lanemask_gt": self = .lanemaskGt
        case "%lanemask_ge": self = .lanemaskGe
        case "%dynamic_smem_size": self = .dynamicSmemSize
        case "%total_smem_size": self = .totalSmemSize
        case "%envreg1": self = .envreg1
        case "%envreg2": self = .envreg2
        case _ where name.hasPrefix("%envreg") && Int(name.dropFirst(7)).map({ (0...31).contains($0) }) == true: self = .envregOther
        case "%reserved_smem_offset_begin": self = .reservedSmemBegin
        case "%reserved_smem_offset_end": self = .reservedSmemEnd
        case "%reserved_smem_offset_cap": self = .reservedSmemCap
        case "%reserved_smem_offset_0": self = .reservedSmemOffset0
        case "%reserved_smem_offset_1": self = .reservedSmemOffset1
        default: return nil
        }
    }
}

/// A kernel decoded and linked for one context: instructions, register-file layout, memory layout.
final class Program: Sendable {
    let name: String
    let code: [Inst]
    /// Slots per warp register file (registers, constants, special registers).
    let slotCount: Int
    /// Number of predicate registers.
    let predicateCount: Int
    /// (slot, value) of every constant slot; filled once per register file.
    let constants: [(Int32, UInt64)]
    /// (slot, register) of each special register the kernel reads.
    let specials: [(Int32, SpecialRegister)]
    /// Destination/source slots of vector operands, indexed by `Inst.e` for vector loads and stores.
    let vectorSlots: [Int32]
    let parameters: [KernelParameter]
    let staticSharedBytes: Int
    let localBytesPerThread: Int
    let declaredRegisterCount: Int
    /// Slot of the hidden carry register used by `add.cc`/`addc`.
    let carrySlot: Int32
    /// Predicate registers that hold constant true (from immediate predicate operands).
    let truePredicates: [Int32]
    /// The kernel calls `printf` or `assert`: its launches gather device output (others skip that per launch).
    let writesDeviceOutput: Bool

    init(name: String, code: [Inst], slotCount: Int, predicateCount: Int, constants: [(Int32, UInt64)],
         specials: [(Int32, SpecialRegister)], vectorSlots: [Int32], parameters: [KernelParameter],
         staticSharedBytes: Int, localBytesPerThread: Int, declaredRegisterCount: Int, carrySlot: Int32, truePredicates: [Int32]) {
        self.truePredicates = truePredicates
        self.name = name
        // Specialise once here, so every executor runs the decided forms.
        self.code = code.map { ins in
            var ins = ins
            ins.fast = FastOp.classify(ins)
            return ins
        }
        self.slotCount = slotCount
        self.predicateCount = predicateCount
        self.constants = constants
        self.specials = specials
        self.vectorSlots = vectorSlots
        self.parameters = parameters
        self.staticSharedBytes = staticSharedBytes
        self.localBytesPerThread = localBytesPerThread
        self.declaredRegisterCount = declaredRegisterCount
        self.carrySlot = carrySlot
        self.writesDeviceOutput = code.contains { $0.op == .printf || $0.op == .assertFail }
    }
}
