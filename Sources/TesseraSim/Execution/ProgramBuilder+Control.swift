// Lowering of control flow, synchronization and warp-level instructions.
extension ProgramEmitter {
    /// Control flow: branches, returns, exits and traps (calls are inlined by `emitCall`).
    mutating func emitControl(_ ins: ParsedInstruction, _ opcode: PTXOpcode, _ mods: PTXModifiers, _ inst: inout Inst) throws(SimError) {
        let ops = ins.operands
        switch opcode {
        case .bra, .brx:
            guard opcode == .bra, ops.count == 1, case .symbol(let label) = ops[0] else { throw unsupported(ins) }
            inst.op = .bra
            fixups.append((code.count, scopes.last!.prefix + label, ins.line))
        case .ret:
            if let target = scopes.last!.returnLabel {
                inst.op = .bra
                fixups.append((code.count, target, ins.line))
            } else {
                inst.op = .exit
            }
        case .exit:
            inst.op = .exit
        case .call:
            try emitCall(ins, inst)
            return
        case .trap:
            inst.op = .trap
        default:
            throw unsupported(ins)
        }
    }

    /// Barriers, fences and the hints the simulator treats as no-ops.
    mutating func emitSynchronization(_ ins: ParsedInstruction, _ opcode: PTXOpcode, _ mods: PTXModifiers, _ inst: inout Inst) throws(SimError) {
        let ops = ins.operands
        switch opcode {
        case .bar, .barrier:
            if mods.has(.warp) { inst.op = .nop; break }
            if mods.has(.arrive) { throw unsupported(ins, "bar.arrive (producer/consumer barriers)") }
            if mods.has(.red) {
                try need(3, ins)
                inst.op = .barRed
                inst.mode = mods.has(.popc) ? 0 : (mods.has(.and) ? 1 : 2)
                inst.d = inst.mode == 0 ? try destination(ops[0], ins) : try predicate(ops[0], ins).0
                let (p, n) = try predicate(ops[ops.count - 1], ins)
                inst.c = p
                if n { inst.flags |= InstFlags.negateC }
                break
            }
            inst.op = .bar
            if ops.count > 1 { throw unsupported(ins, "barriers with a thread count") }
        case .membar, .fence:
            if mods.contains(where: { $0.hasPrefix("proxy") || $0 == "mbarrier_init" }) { inst.op = .nop; break }
            inst.op = .fence
        case .nanosleep, .prefetch, .prefetchu, .pmevent, .discard, .applypriority, .griddepcontrol:
            inst.op = .nop
        default:
            throw unsupported(ins)
        }
    }

    /// Warp-level operations: shuffles, votes, the active mask, match and redux.
    mutating func emitWarp(_ ins: ParsedInstruction, _ opcode: PTXOpcode, _ mods: PTXModifiers, _ inst: inout Inst) throws(SimError) {
        let ops = ins.operands
        let type = mods.type
        switch opcode {
        case .shfl:
            try need(4, ins)
            inst.op = .shfl
            guard let m = ([.up: .up, .down: .down, .bfly: .bfly, .idx: .idx] as [PTXModifiers.Flag: ShuffleMode]).first(where: { mods.has($0.key) })?.value else { throw unsupported(ins) }
            inst.mode = m.rawValue
            if case .pair(let d, let p) = ops[0] {
                inst.d = try destination(d, ins)
                inst.d2 = try predicate(p, ins).0
            } else {
                inst.d = try destination(ops[0], ins)
            }
            inst.a = try source(ops[1], ins, type: .b32)
            inst.b = try source(ops[2], ins, type: .u32)
            inst.c = try source(ops[3], ins, type: .u32)
            inst.e = ops.count > 4 ? try source(ops[4], ins, type: .u32) : constant(0xFFFF_FFFF)
        case .vote:
            try need(2, ins)
            inst.op = .vote
            guard let m = ([.all: .all, .any: .any, .uni: .uni, .ballot: .ballot] as [PTXModifiers.Flag: VoteMode]).first(where: { mods.has($0.key) })?.value else { throw unsupported(ins) }
            inst.mode = m.rawValue
            if m == .ballot { inst.d = try destination(ops[0], ins) } else { inst.d = try predicate(ops[0], ins).0 }
            let (a, n) = try predicate(ops[1], ins)
            inst.a = a
            if n { inst.flags |= InstFlags.negateA }
            inst.e = ops.count > 2 ? try source(ops[2], ins, type: .u32) : constant(0xFFFF_FFFF)
        case .activemask:
            try need(1, ins)
            inst.op = .activemask
            inst.d = try destination(ops[0], ins)
        case .match:
            try need(3, ins)
            inst.op = .match
            inst.mode = mods.has(.all) ? 1 : 0
            if case .pair(let d, let p) = ops[0] {
                inst.d = try destination(d, ins)
                inst.d2 = try predicate(p, ins).0
            } else {
                inst.d = try destination(ops[0], ins)
            }
            inst.a = try source(ops[1], ins, type: type)
            inst.e = try source(ops[2], ins, type: .u32)
        case .redux:
            try need(3, ins)
            inst.op = .redux
            guard let op = mods.atomic, [.add, .min, .max, .and, .or, .xor].contains(op), type != .f32 else { throw unsupported(ins) }
            inst.mode = op.rawValue
            inst.d = try destination(ops[0], ins)
            inst.a = try source(ops[1], ins, type: type)
            inst.e = try source(ops[2], ins, type: .u32)

        default:
            throw unsupported(ins)
        }
    }
}
