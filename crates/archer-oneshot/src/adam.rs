//! Adam as PyTorch's `torch.optim.Adam` computes it (L2 weight decay added to the gradient,
//! bias-corrected moments), with its state in plain tensors so that it can be saved.

use tch::Tensor;

/// Adam for one parameter tensor (α).
#[derive(Debug)]
pub struct Adam {
    pub lr: f64,
    pub betas: (f64, f64),
    pub weight_decay: f64,
    pub eps: f64,
    m: Tensor,
    v: Tensor,
    /// Steps taken.
    t: u64,
}

impl Adam {
    /// For a parameter like `param`; `eps` is PyTorch's 1e-8.
    pub fn new(param: &Tensor, lr: f64, betas: (f64, f64), weight_decay: f64) -> Self {
        Adam {
            lr,
            betas,
            weight_decay,
            eps: 1e-8,
            m: param.zeros_like().detach(),
            v: param.zeros_like().detach(),
            t: 0,
        }
    }

    /// One step of `param` (a leaf) down `grad`.
    pub fn step(&mut self, param: &Tensor, grad: &Tensor) {
        tch::no_grad(|| {
            self.t += 1;
            let (b1, b2) = self.betas;
            let g = grad + param * self.weight_decay;
            self.m = &self.m * b1 + &g * (1.0 - b1);
            self.v = &self.v * b2 + (&g * &g) * (1.0 - b2);
            let m_hat = &self.m / (1.0 - b1.powi(self.t as i32));
            let v_hat = &self.v / (1.0 - b2.powi(self.t as i32));
            let update = m_hat / (v_hat.sqrt() + self.eps) * self.lr;
            let mut p = param.shallow_clone();
            let _ = p.f_sub_(&update).expect("same shape");
        });
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.t
    }

    /// The moments by name (`<prefix>m`, `<prefix>v`), for a checkpoint; the step count is
    /// [`Adam::steps`].
    pub fn state(&self, prefix: &str) -> Vec<(String, Tensor)> {
        vec![
            (format!("{prefix}m"), self.m.shallow_clone()),
            (format!("{prefix}v"), self.v.shallow_clone()),
        ]
    }

    /// Takes a checkpoint's moments and step count back; the reason when they do not fit.
    pub fn load_state(
        &mut self,
        prefix: &str,
        saved: &mut std::collections::HashMap<String, Tensor>,
        steps: u64,
    ) -> Result<(), String> {
        let mut take = |which: &str, like: &Tensor| {
            let key = format!("{prefix}{which}");
            match saved.remove(&key) {
                Some(t) if t.size() == like.size() => Ok(t.to_device(like.device())),
                Some(t) => Err(format!(
                    "{key} has shape {:?}, expected {:?}",
                    t.size(),
                    like.size()
                )),
                None => Err(format!("{key} is missing")),
            }
        };
        let m = take("m", &self.m)?;
        let v = take("v", &self.v)?;
        (self.m, self.v, self.t) = (m, v, steps);
        Ok(())
    }
}
