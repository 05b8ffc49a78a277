//! The registered model-free strategies: one module each, one line in the list below.

crate::registry!(KINDS: random, rea, ls, reinforce, nsga2, mo_rea, tpe, ga, metaqnn, genet);
