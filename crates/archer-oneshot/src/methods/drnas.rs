//! DrNAS (Chen et al. 2021): every edge mixed by a reparameterised Dirichlet sample with
//! concentrations `β = elu(α) + 1`, drawn afresh for each forward pass; α by Adam on
//! validation batches, the weights by SGD on training batches (DARTS's alternation). α is
//! regularised by L2 (Adam's weight decay, DrNAS's NB201 default, scale 1e-3) or by
//! `scale · KL(Dir(β) ‖ Dir(1))`. The architecture is the argmax of α (that of β).

use tch::Tensor;

use crate::method::{Method, MethodKind, Step};
use crate::search::{SoftMixing, StepLosses};
use crate::{
    dirichlet_concentration, dirichlet_kl, dirichlet_weights, Adam, OneShotError, OneShotSettings,
    Regularizer, Supernet,
};

pub static DRNAS: MethodKind = MethodKind {
    name: "drnas",
    summary: "DrNAS: every edge mixed by a reparameterised Dirichlet sample, beta = elu(alpha) + 1",
    default_epochs: 100,
    mixes: true,
    build: |i| Ok(Box::new(Drnas::new(i.settings, i.net))),
};

struct Drnas {
    adam: Adam,
    /// The KL regulariser's scale; `None` under L2 (Adam's weight decay).
    kl_scale: Option<f64>,
}

impl Drnas {
    fn new(settings: &OneShotSettings, net: &Supernet) -> Self {
        let d = settings.dirichlet();
        let (weight_decay, kl_scale) = match d.regularizer {
            Regularizer::L2 => (d.scale, None),
            Regularizer::Kl => (0.0, Some(d.scale)),
        };
        let a = &settings.arch;
        Drnas {
            adam: Adam::new(&net.alpha, a.lr, (a.betas[0], a.betas[1]), weight_decay),
            kl_scale,
        }
    }
}

impl Method for Drnas {
    fn step(&mut self, s: Step) -> Result<StepLosses, OneShotError> {
        let kl = self
            .kl_scale
            .map(|scale| move |a: &Tensor| dirichlet_kl(a) * scale);
        let mixing = SoftMixing {
            weights: &dirichlet_weights,
            penalty: kl.as_ref().map(|f| f as &dyn Fn(&Tensor) -> Tensor),
        };
        super::soft_method_step(s, &mut self.adam, &mixing)
    }

    fn adam(&self) -> Option<&Adam> {
        Some(&self.adam)
    }

    /// The Dirichlet's mean, `β / Σβ` per edge (its argmax is α's).
    fn probabilities(&self, net: &Supernet) -> Tensor {
        let beta = dirichlet_concentration(&net.alpha.detach()).to_kind(tch::Kind::Double);
        let total = beta.sum_dim_intlist(-1, true, tch::Kind::Double);
        beta / total
    }

    fn adam_mut(&mut self) -> Option<&mut Adam> {
        Some(&mut self.adam)
    }
}
