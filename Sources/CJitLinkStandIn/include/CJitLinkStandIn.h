#pragma once
/// Marks the stand-in library; it exports nothing else.
extern const char tessera_jit_link_stand_in[];
