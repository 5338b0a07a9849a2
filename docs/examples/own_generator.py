"""Class images through a generator of the model's data: a VAE's decoder, then a pixel polish."""

import torch
from torch import nn

from actmax import GeneratorPrior, logit, visualize_with_prior
from actmax.lab.data import load_dataset
from actmax.lab.vae import VAEConfig, train_vae

data = load_dataset("mnist")
# The lab's VAE, trained briefly here (`actmax lab` trains it fully: about 70 s on 2 cores).
vae = train_vae(data.x_train, data.x_test, VAEConfig(epochs=1, train_subset=5000)).model

torch.manual_seed(0)
model = nn.Sequential(
    nn.Conv2d(1, 8, 3, padding=1),
    nn.ReLU(),
    nn.MaxPool2d(2),
    nn.Flatten(),
    nn.Linear(8 * 14 * 14, 10),
)
x, y = torch.from_numpy(data.x_train[:5000]), torch.from_numpy(data.y_train[:5000]).long()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for _ in range(3):  # a few epochs: enough for a classifier that knows the digits
    for i in range(0, len(x), 100):
        loss = nn.functional.cross_entropy(model(x[i : i + 100]), y[i : i + 100])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

result = visualize_with_prior(
    model,
    [logit(c) for c in range(10)],
    vae,  # codes (N, 32) -> images (N, 1, 28, 28) in [0, 1]
    (vae.latent,),
    prior=GeneratorPrior(starts=4, iterations=100, polish=50),
    input_shape=(1, 28, 28),
)
print(result)  # VisualizationResult(10 rows, recipe='generator prior', inputs=(10, 1, 28, 28))

# The polish lifted every logit above where the generator's image alone had it.
search = result.history["objective"][99]  # the last step of the latent search
assert all(result.activations > search)
result.save("through_vae.png", overwrite=True)
