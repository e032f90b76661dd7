"""The VAE's configuration: the paper's reading, the one deviation, the value rules, the cache fields."""

import pytest

from replicate.io.errors import ParameterError
from replicate.method.vae_config import VAEConfig

TINY = dict(encoder_hidden=(32,), decoder_hidden=(16,), latent_dim=4, epochs=3, batch_size=16,
            learning_rate=1e-3)



def test_paper_reading_and_the_documented_deviations():
    from replicate.io.facts import paper

    m = paper()["model"]
    lit = VAEConfig.paper_reading()
    assert (lit.encoder_hidden, lit.decoder_hidden, lit.latent_dim) == (tuple(m["encoder_hidden"]), tuple(m["decoder_hidden"]), m["latent_dim"])
    assert (lit.learning_rate, lit.batch_size, lit.epochs) == (m["learning_rate"], m["batch_size"], m["epochs"])
    assert lit.logvar_clamp is None and lit.grad_clipnorm is None and not lit.batch_norm
    assert lit.reconstruction == "sum" and lit.adam_epsilon == 1e-7
    assert lit.reconstruction_weight == 1.0 and lit.kl_warmup_epochs == 0
    # the default differs from the literal reading only in the one documented place
    diff = {k for k, v in VAEConfig().__dict__.items() if getattr(lit, k) != v}
    assert diff == {"batch_norm"}


@pytest.mark.parametrize("kw, name", [({"epochs": 0}, "epochs"), ({"latent_dim": -2}, "latent_dim"),
                                      ({"reconstruction": "max"}, "reconstruction"),
                                      ({"activation": "nope"}, "activation")])
def test_bad_config_names_the_parameter(kw, name):
    with pytest.raises(ParameterError, match=name):
        VAEConfig(**kw)


def test_cache_keys_of_the_first_format_are_kept():
    # fields added later are left out of the key while neutral, so older cache entries stay valid
    v1 = {"encoder_hidden", "decoder_hidden", "latent_dim", "activation", "reconstruction", "learning_rate",
          "batch_size", "epochs", "logvar_clamp", "grad_clipnorm", "adam_epsilon", "batch_norm", "xla"}
    assert set(VAEConfig().cache_fields()) == v1
    assert set(VAEConfig(reconstruction_weight=8.0).cache_fields()) == v1 | {"reconstruction_weight"}
    assert set(VAEConfig(kl_warmup_epochs=5).cache_fields()) == v1 | {"kl_warmup_epochs"}



def test_the_value_rules_are_written_once_and_the_notebook_checks_use_them():
    from replicate.method.vae_config import RULES
    from replicate.publish.params import SPECS, VAE_PARAMETERS

    for name in VAE_PARAMETERS:
        assert SPECS[name] is RULES[name], name
    # each rule refuses what VAEConfig refuses, with the same words
    with pytest.raises(ParameterError, match=r"kl_warmup_epochs = -1 is invalid: expected an integer >= 0"):
        VAEConfig(kl_warmup_epochs=-1)
    ok, want = SPECS["kl_warmup_epochs"]
    assert not ok(-1) and want.startswith("an integer >= 0")


def test_config_from_ignores_what_is_not_a_vae_field():
    from replicate.method.vae_config import config_from

    cfg = config_from({"epochs": 4, "dataset": "x", "batch_norm": False})
    assert cfg.epochs == 4 and not cfg.batch_norm and cfg.latent_dim == VAEConfig().latent_dim
