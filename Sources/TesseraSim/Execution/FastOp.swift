/// The specialised form of an instruction the interpreter's hot loop executes directly: one case per
/// (operation, type, state space) combination that dominates real kernels (index arithmetic, 32-bit float
/// arithmetic, compares, shared and global loads and stores). Chosen once when the program is built, so the
/// loop dispatches on a single dense byte instead of re-deciding by opcode, type width, flags and space on
/// every warp-instruction. `.none`: the instruction takes the general path.
enum FastOp: UInt8, Sendable {
    case none
    case mov
    case add32, add64, sub32, sub64, mulLo32, mulLo64, madLo32, madLo64, mulWideU32, mulWideS32
    case and, or, xor, shl32, shrU32, shrS32, shl64
    case cvtSext32, cvtZext32, cvtCopy64
    case setpS32Lt, setpS32Le, setpS32Gt, setpS32Ge, setp32Eq, setp32Ne
    case setpU32Lt, setpU32Le, setpU32Gt, setpU32Ge, setpS64Lt, setpS64Ge, setpU64Lt, setpU64Ge
    case setpF32Lt, setpF32Le, setpF32Gt, setpF32Ge
    case selp
    /// `cvta.to.global` and `cvta.global` (the global window starts at 0 in the simulator): a copy.
    case cvtaGlobal
    case fadd32, fsub32, fmul32, ffma32, fadd64, fsub64, fmul64, ffma64
    case ldShared32, ldShared64, ldGlobal32, ldGlobal64, stShared32, stShared64, stGlobal32, stGlobal64
    /// A kernel parameter at a fixed offset, the same for every lane.
    case ldParam32, ldParamS32, ldParam64
    /// Vector loads and stores (`.v2`/`.v4`) of 32-bit and (`.v2`) 64-bit plain words, shared or global (`Inst.space`
    /// and `Inst.type` say which): one aligned access per lane for the whole vector, its components in the registers
    /// `Program.vectorSlots` lists from `Inst.e`.
    case ldVector, stVector

    /// The fast form of `ins`, or `.none`. Each case reproduces exactly what the general path computes for
    /// the instructions it accepts (see `BlockExecutor.simpleInteger`, `execute`, `floatOp`, `load`, `store`).
    static func classify(_ ins: Inst) -> FastOp {
        // Every form writes a destination register except the stores (vector loads name theirs in `vectorSlots`).
        guard ins.d >= 0 || ins.op == .st || (ins.op == .ld && ins.count > 1) else { return .none }
        let bytes = ins.type.bytes
        let hasAB = ins.a >= 0 && ins.b >= 0
        switch ins.op {
        case .mov:
            return ins.flags == 0 && ins.a >= 0 && ins.type != .pred ? .mov : .none
        case .add, .sub, .mulLo:
            guard ins.flags == 0, hasAB else { return .none }
            switch (ins.op, bytes) {
            case (.add, 4): return .add32
            case (.add, 8): return .add64
            case (.sub, 4): return .sub32
            case (.sub, 8): return .sub64
            case (.mulLo, 4): return .mulLo32
            case (.mulLo, 8): return .mulLo64
            default: return .none
            }
        case .madLo:
            guard ins.flags == 0, hasAB, ins.c >= 0 else { return .none }
            return bytes == 4 ? .madLo32 : (bytes == 8 ? .madLo64 : .none)
        case .mulWide:
            guard ins.flags == 0, hasAB else { return .none }
            switch ins.type {
            case .s32: return .mulWideS32
            case .u32, .b32: return .mulWideU32
            default: return .none
            }
        case .and, .or, .xor:
            guard ins.flags == 0, hasAB, ins.type != .pred else { return .none }
            return ins.op == .and ? .and : (ins.op == .or ? .or : .xor)
        case .shl:
            guard ins.flags == 0, hasAB else { return .none }
            return bytes == 4 ? .shl32 : (bytes == 8 ? .shl64 : .none)
        case .shr:
            guard ins.flags == 0, hasAB, bytes == 4 else { return .none }
            return ins.type.isSigned ? .shrS32 : .shrU32
        case .cvt:
            guard ins.flags & InstFlags.sat == 0, ins.a >= 0 else { return .none }
            switch (ins.type, ins.type2) {
            case (.u64, .s32), (.s64, .s32), (.b64, .s32), (.s32, .u64), (.s32, .s64), (.s32, .b64), (.s32, .u32), (.s32, .b32), (.s32, .s32):
                return .cvtSext32
            case (.u64, .u32), (.s64, .u32), (.u64, .b32), (.s64, .b32), (.u32, .u64), (.u32, .s64), (.u32, .b64), (.b32, .u64), (.b32, .s64), (.u32, .s32), (.u32, .u32), (.u32, .b32):
                return .cvtZext32
            case (.u64, .u64), (.u64, .s64), (.s64, .u64), (.s64, .s64):
                return .cvtCopy64
            default: return .none
            }
        case .setp:
            guard ins.e <= 0, hasAB, ins.flags == 0, let cmp = Comparison(rawValue: ins.mode) else { return .none }
            switch (ins.type2, cmp) {
            case (.s32, .lt): return .setpS32Lt
            case (.s32, .le): return .setpS32Le
            case (.s32, .gt): return .setpS32Gt
            case (.s32, .ge): return .setpS32Ge
            case (.s32, .eq), (.u32, .eq), (.b32, .eq): return .setp32Eq
            case (.s32, .ne), (.u32, .ne), (.b32, .ne): return .setp32Ne
            case (.u32, .lt), (.u32, .lo): return .setpU32Lt
            case (.u32, .le), (.u32, .ls): return .setpU32Le
            case (.u32, .gt), (.u32, .hi): return .setpU32Gt
            case (.u32, .ge), (.u32, .hs): return .setpU32Ge
            case (.s64, .lt): return .setpS64Lt
            case (.s64, .ge): return .setpS64Ge
            case (.u64, .lt), (.u64, .lo): return .setpU64Lt
            case (.u64, .ge), (.u64, .hs): return .setpU64Ge
            case (.f32, .lt): return .setpF32Lt
            case (.f32, .le): return .setpF32Le
            case (.f32, .gt): return .setpF32Gt
            case (.f32, .ge): return .setpF32Ge
            default: return .none
            }
        case .cvta:
            // `cvta.to.global.u32` truncates: only the 64-bit and to-generic forms are plain copies.
            guard ins.space == MemorySpace.global.rawValue, ins.a >= 0, ins.flags == 0 || ins.type.bytes == 8 else { return .none }
            return .cvtaGlobal
        case .selp:
            guard ins.flags & ~InstFlags.negateC == 0, hasAB, ins.c >= 0 else { return .none }
            return .selp
        case .fadd, .fsub, .fmul, .ffma:
            let rounding = Rounding(rawValue: ins.mode) ?? .none
            guard ins.flags == 0, rounding == .none || rounding == .rn, hasAB else { return .none }
            if ins.op == .ffma && ins.c < 0 { return .none }
            switch (ins.op, ins.type) {
            case (.fadd, .f32): return .fadd32
            case (.fsub, .f32): return .fsub32
            case (.fmul, .f32): return .fmul32
            case (.ffma, .f32): return .ffma32
            case (.fadd, .f64): return .fadd64
            case (.fsub, .f64): return .fsub64
            case (.fmul, .f64): return .fmul64
            case (.ffma, .f64): return .ffma64
            default: return .none
            }
        case .ld where ins.space == MemorySpace.param.rawValue && ins.a < 0:
            guard ins.flags == 0, ins.count == 1 else { return .none }
            switch ins.type {
            case .u32, .b32, .f32: return .ldParam32
            case .s32: return .ldParamS32
            case .u64, .b64, .s64, .f64: return .ldParam64
            default: return .none
            }
        case .ld, .st:
            return classifyMemory(ins)
        default:
            return .none
        }
    }

    /// Loads and stores of plain words addressed by a register: scalars of 4 or 8 bytes, and vectors of 2 or 4
    /// components of 4 bytes or 2 of 8 (one aligned access per lane). Only bit copies: a signed load sign-extends
    /// and predicates load specially, so those take the general path.
    private static func classifyMemory(_ ins: Inst) -> FastOp {
        guard ins.flags == 0, ins.a >= 0, let space = MemorySpace(rawValue: ins.space) else { return .none }
        let isLoad = ins.op == .ld
        let vector = ins.count > 1
        if vector ? ins.e < 0 : (!isLoad && ins.b < 0) { return .none }
        let width: Int
        switch ins.type {
        case .u32, .b32, .f32: width = 4
        case .s32: width = isLoad ? 0 : 4
        case .u64, .b64, .s64, .f64: width = 8
        default: width = 0
        }
        if vector {
            guard (space == .shared || space == .global),
                  (width == 4 && (ins.count == 2 || ins.count == 4)) || (width == 8 && ins.count == 2) else { return .none }
            return isLoad ? .ldVector : .stVector
        }
        switch (space, isLoad, width) {
        case (.shared, true, 4): return .ldShared32
        case (.shared, true, 8): return .ldShared64
        case (.global, true, 4): return .ldGlobal32
        case (.global, true, 8): return .ldGlobal64
        case (.shared, false, 4): return .stShared32
        case (.shared, false, 8): return .stShared64
        case (.global, false, 4): return .stGlobal32
        case (.global, false, 8): return .stGlobal64
        default: return .none
        }
    }
}
