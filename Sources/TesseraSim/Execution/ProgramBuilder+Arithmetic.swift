// Lowering of arithmetic, logic, bit manipulation, floating-point functions and comparisons.
extension ProgramEmitter {
    /// Integer and floating-point arithmetic (half precision included).
    mutating func emitArithmetic(_ ins: ParsedInstruction, _ opcode: PTXOpcode, _ mods: PTXModifiers, _ inst: inout Inst) throws(SimError) {
        let ops = ins.operands
        let type = inst.type
        let arity: Int
        switch opcode {
        case .abs, .neg: arity = 1
        case .mad, .fma, .sad, .mad24, .madc: arity = 3
        default: arity = 2
        }
        guard ops.count == arity + 1 else { throw fail(ins.line, "\(ins.text) needs \(arity + 1) operands") }
        if type.isHalfPrecision {
            let op: HalfOp
            switch opcode {
            case .add: op = .add
            case .sub: op = .sub
            case .mul: op = .mul
            case .fma, .mad: op = .fma
            case .min: op = .min
            case .max: op = .max
            case .abs: op = .abs
            case .neg: op = .neg
            default: throw unsupported(ins)
            }
            inst.op = .half
            inst.imm = Int64(op.rawValue)
            if mods.has(.relu) { inst.flags |= InstFlags.relu }
            if mods.has(.NaN) { inst.flags |= InstFlags.propagateNaN }
            if mods.has(.xorsign) { inst.flags |= InstFlags.xorSign }
        } else if type.isFloat {
            switch opcode {
            case .add: inst.op = .fadd
            case .sub: inst.op = .fsub
            case .mul: inst.op = .fmul
            case .mad, .fma: inst.op = .ffma
            case .div: inst.op = .fdiv
            case .min: inst.op = .fmin
            case .max: inst.op = .fmax
            case .abs: inst.op = .fabs
            case .neg: inst.op = .fneg
            default: throw unsupported(ins)
            }
            if mods.has(.NaN) || mods.has(.xorsign) || mods.has(.relu) { throw unsupported(ins) }
        } else {
            let cc = mods.has(.cc)
            switch opcode {
            case .add: inst.op = cc ? .addCC : .add
            case .addc: inst.op = .addC; inst.mode = cc ? 1 : 0
            case .subc: inst.op = .subC; inst.mode = cc ? 1 : 0
            case .madc: inst.op = mods.has(.hi) ? .madCHi : .madCLo; inst.mode = cc ? 1 : 0
            case .sub: inst.op = cc ? .subCC : .sub
            case .mul: inst.op = mods.has(.wide) ? .mulWide : (mods.has(.hi) ? .mulHi : .mulLo)
            case .mad:
                if cc { inst.op = mods.has(.hi) ? .madHiCC : .madLoCC }
                else { inst.op = mods.has(.wide) ? .madWide : (mods.has(.hi) ? .madHi : .madLo) }
            case .div: inst.op = .div
            case .rem: inst.op = .rem
            case .min: inst.op = .min
            case .max: inst.op = .max
            case .abs: inst.op = .abs
            case .neg: inst.op = .neg
            case .sad: inst.op = .sad
            case .mul24: inst.op = .mul24; inst.mode = mods.has(.hi) ? 1 : 0
            case .mad24: inst.op = .mad24; inst.mode = mods.has(.hi) ? 1 : 0
            default: throw unsupported(ins)
            }
            if mods.has(.relu) { throw unsupported(ins) }
        }
        inst.d = try destination(ops[0], ins)
        inst.a = try source(ops[1], ins, type: type)
        if arity >= 2 { inst.b = try source(ops[2], ins, type: type) }
        if arity >= 3 {
            let ctype: ScalarType
            if inst.op == .madWide {
                switch type {
                case .s16: ctype = .s32
                case .u16: ctype = .u32
                case .s32: ctype = .s64
                default: ctype = .u64
                }
            } else { ctype = type }
            inst.c = try source(ops[3], ins, type: ctype)
        }
    }

    /// Logic and shifts on values and predicates.
    mutating func emitLogic(_ ins: ParsedInstruction, _ opcode: PTXOpcode, _ mods: PTXModifiers, _ inst: inout Inst) throws(SimError) {
        let ops = ins.operands
        let type = mods.type
        switch opcode {
        case .and, .or, .xor, .not, .cnot:
            if type == .pred {
                inst.op = ([.and: .pAnd, .or: .pOr, .xor: .pXor, .not: .pNot, .cnot: .pNot] as [PTXOpcode: Op])[opcode]!
                inst.d = try predicate(ops[0], ins).0
                let (a, na) = try predicate(ops[1], ins)
                inst.a = a
                if na { inst.flags |= InstFlags.negateA }
                if ops.count > 2 {
                    let (b, nb) = try predicate(ops[2], ins)
                    inst.b = b
                    if nb { inst.flags |= InstFlags.negateB }
                }
            } else {
                inst.op = ([.and: .and, .or: .or, .xor: .xor, .not: .not, .cnot: .cnot] as [PTXOpcode: Op])[opcode]!
                try need(2, ins)
                inst.d = try destination(ops[0], ins)
                inst.a = try source(ops[1], ins, type: type)
                if ops.count > 2 { inst.b = try source(ops[2], ins, type: type) }
            }
        case .shl, .shr:
            try need(3, ins)
            inst.op = opcode == .shl ? .shl : .shr
            inst.d = try destination(ops[0], ins)
            inst.a = try source(ops[1], ins, type: type)
            inst.b = try source(ops[2], ins, type: .u32)
        default:
            throw unsupported(ins)
        }
    }

    /// Bit manipulation: population count, bit fields, byte permutes, funnel shifts, `lop3`, dot products.
    mutating func emitBits(_ ins: ParsedInstruction, _ opcode: PTXOpcode, _ mods: PTXModifiers, _ inst: inout Inst) throws(SimError) {
        let ops = ins.operands
        let types = mods.types
        let type = mods.type
        switch opcode {
        case .popc, .clz, .brev, .bfind:
            try need(2, ins)
            inst.op = ([.popc: .popc, .clz: .clz, .brev: .brev, .bfind: .bfind] as [PTXOpcode: Op])[opcode]!
            if mods.has(.shiftamt) { inst.flags |= InstFlags.wrap }
            inst.d = try destination(ops[0], ins)
            inst.a = try source(ops[1], ins, type: type)
        case .bfe:
            try need(4, ins)
            inst.op = .bfe
            inst.d = try destination(ops[0], ins)
            inst.a = try source(ops[1], ins, type: type)
            inst.b = try source(ops[2], ins, type: .u32)
            inst.c = try source(ops[3], ins, type: .u32)
        case .bfi:
            try need(5, ins)
            inst.op = .bfi
            inst.d = try destination(ops[0], ins)
            inst.a = try source(ops[1], ins, type: type)
            inst.b = try source(ops[2], ins, type: type)
            inst.c = try source(ops[3], ins, type: .u32)
            inst.e = try source(ops[4], ins, type: .u32)
        case .prmt:
            try need(4, ins)
            inst.op = .prmt
            inst.mode = 0
            for (i, m) in [PTXModifiers.Flag.f4e, .b4e, .rc8, .ecl, .ecr, .rc16].enumerated() where mods.has(m) { inst.mode = UInt8(i + 1) }
            inst.d = try destination(ops[0], ins)
            inst.a = try source(ops[1], ins, type: .b32)
            inst.b = try source(ops[2], ins, type: .b32)
            inst.c = try source(ops[3], ins, type: .b32)
        case .shf:
            try need(4, ins)
            inst.op = .shf
            inst.mode = mods.has(.r) ? 1 : 0
            if mods.has(.wrap) { inst.flags |= InstFlags.wrap }
            inst.d = try destination(ops[0], ins)
            inst.a = try source(ops[1], ins, type: .b32)
            inst.b = try source(ops[2], ins, type: .b32)
            inst.c = try source(ops[3], ins, type: .u32)
        case .lop3:
            try need(5, ins)
            if case .pair = ops[0] { throw unsupported(ins) }
            inst.op = .lop3
            inst.d = try destination(ops[0], ins)
            inst.a = try source(ops[1], ins, type: .b32)
            inst.b = try source(ops[2], ins, type: .b32)
            inst.c = try source(ops[3], ins, type: .b32)
            guard case .integer(let lut) = ops[4] else { throw fail(ins.line, "lop3 needs an immediate LUT") }
            inst.imm = lut
        case .dp4a, .dp2a:
            try need(4, ins)
            inst.op = opcode == .dp4a ? .dp4a : .dp2a
            inst.type = types.first ?? .u32
            inst.type2 = types.count > 1 ? types[1] : .u32
            inst.mode = mods.has(.hi) ? 1 : 0
            inst.d = try destination(ops[0], ins)
            inst.a = try source(ops[1], ins, type: .b32)
            inst.b = try source(ops[2], ins, type: .b32)
            inst.c = try source(ops[3], ins, type: .b32)
        default:
            throw unsupported(ins)
        }
    }

    /// Floating-point functions: square roots, reciprocals, exponentials, trigonometry, `copysign`, `testp`.
    mutating func emitFloatFunction(_ ins: ParsedInstruction, _ opcode: PTXOpcode, _ mods: PTXModifiers, _ inst: inout Inst) throws(SimError) {
        let ops = ins.operands
        let type = mods.type
        switch opcode {
        case .sqrt, .rsqrt, .rcp, .ex2, .lg2, .sin, .cos, .tanh:
            try need(2, ins)
            if type.isHalfPrecision {
                // PTX defines ex2 and tanh (approx) on the half types.
                guard opcode == .ex2 || opcode == .tanh else { throw unsupported(ins) }
                inst.op = .half
                inst.imm = Int64((opcode == .ex2 ? HalfOp.ex2 : HalfOp.tanh).rawValue)
                inst.d = try destination(ops[0], ins)
                inst.a = try source(ops[1], ins, type: type)
                break
            }
            guard type == .f32 || type == .f64 else { throw unsupported(ins) }
            inst.op = ([.sqrt: .fsqrt, .rsqrt: .frsqrt, .rcp: .frcp, .ex2: .fex2, .lg2: .flg2, .sin: .fsin, .cos: .fcos, .tanh: .ftanh] as [PTXOpcode: Op])[opcode]!
            inst.d = try destination(ops[0], ins)
            inst.a = try source(ops[1], ins, type: type)
        case .copysign:
            try need(3, ins)
            inst.op = .copysign
            inst.d = try destination(ops[0], ins)
            inst.a = try source(ops[1], ins, type: type)
            inst.b = try source(ops[2], ins, type: type)
        case .testp:
            try need(2, ins)
            inst.op = .testp
            inst.mode = 0
            for (i, m) in [PTXModifiers.Flag.finite, .infinite, .number, .notanumber, .normal, .subnormal].enumerated() where mods.has(m) { inst.mode = UInt8(i) }
            inst.d = try predicate(ops[0], ins).0
            inst.a = try source(ops[1], ins, type: type)
        default:
            throw unsupported(ins)
        }
    }

    /// Comparison and selection: `setp`/`set`, `selp`, `slct`.
    mutating func emitComparison(_ ins: ParsedInstruction, _ opcode: PTXOpcode, _ mods: PTXModifiers, _ inst: inout Inst) throws(SimError) {
        let ops = ins.operands
        let types = mods.types
        let type = mods.type
        switch opcode {
        case .setp, .set:
            try emitCompare(ins, opcode, mods, &inst)
        case .selp:
            try need(4, ins)
            inst.op = .selp
            inst.d = try destination(ops[0], ins)
            inst.a = try source(ops[1], ins, type: type)
            inst.b = try source(ops[2], ins, type: type)
            let (c, n) = try predicate(ops[3], ins)
            inst.c = c
            if n { inst.flags |= InstFlags.negateC }
        case .slct:
            try need(4, ins)
            inst.op = .slct
            inst.type = types.first ?? .b32
            inst.type2 = types.last ?? .s32
            inst.d = try destination(ops[0], ins)
            inst.a = try source(ops[1], ins, type: inst.type)
            inst.b = try source(ops[2], ins, type: inst.type)
            inst.c = try source(ops[3], ins, type: inst.type2)
        default:
            throw unsupported(ins)
        }
    }

    mutating func emitCompare(_ ins: ParsedInstruction, _ opcode: PTXOpcode, _ mods: PTXModifiers, _ inst: inout Inst) throws(SimError) {
        let ops = ins.operands
        let types = mods.types
        guard let cmp = mods.comparison else { throw fail(ins.line, "\(ins.text) has no comparison") }
        guard ops.count >= 3 else { throw fail(ins.line, "\(ins.text) needs 3 operands") }
        inst.op = opcode == .setp ? .setp : .set
        inst.mode = cmp.rawValue
        inst.type2 = types.last ?? .s32
        inst.type = types.first ?? .u32
        let halfSource = inst.type2.isHalfPrecision
        if halfSource { inst.op = inst.op == .setp ? .hsetp : .hset }
        // Optional boolean combination with a third predicate: setp.cmp.bop.
        var bop: UInt8 = 0
        if mods.has(.and) { bop = 1 } else if mods.has(.or) { bop = 2 } else if mods.has(.xor) { bop = 3 }
        if inst.op == .set || inst.op == .hset {
            inst.d = try destination(ops[0], ins)
        } else if case .pair(let p, let q) = ops[0] {
            inst.d = try predicate(p, ins).0
            inst.d2 = try predicate(q, ins).0
        } else {
            inst.d = try predicate(ops[0], ins).0
        }
        inst.a = try source(ops[1], ins, type: inst.type2)
        inst.b = try source(ops[2], ins, type: inst.type2)
        if bop != 0 {
            guard ops.count >= 4 else { throw fail(ins.line, "\(ins.text) needs a predicate to combine") }
            let (c, n) = try predicate(ops[3], ins)
            inst.c = c
            if n { inst.flags |= InstFlags.negateC }
            inst.e = Int32(bop)
        }
    }
}
