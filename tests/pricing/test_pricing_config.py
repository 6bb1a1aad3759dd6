"""Configuration prices (``models[i].price``) per service tier, as the catalog resolves them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from costroute import ConfigError
from costroute._catalog import Catalog
from costroute.policies import load_config
from costroute.pricing import PriceSheet

D = Decimal


def _sheet(name: str, price: dict[str, object]) -> PriceSheet:
    config = load_config({"models": [{"name": name, "quality": 0.9, "price": price}]})
    sheet = Catalog(config).candidate(name).sheet
    assert sheet is not None
    return sheet


def test_restating_the_list_price_keeps_known_tiers_and_one_hour_writes() -> None:
    listed = _sheet("anthropic/claude-sonnet-4-5", {"input_per_mtok": "3", "output_per_mtok": "15"})
    assert (listed.source, listed.cache_write_1h_per_mtok) == ("config", D("6"))
    batch = listed.for_service_tier("batch")
    assert batch is not None and (batch.input_per_mtok, batch.cache_write_1h_per_mtok) == (D("1.5"), D("3"))
    assert batch.model == "anthropic/claude-sonnet-4-5"


def test_a_negotiated_price_has_only_the_tiers_it_names() -> None:
    negotiated = _sheet(
        "anthropic/claude-sonnet-4-5",
        {
            "input_per_mtok": "2",
            "output_per_mtok": "10",
            "cache_write_1h_per_mtok": "4",
            "batch": {"input_per_mtok": "1", "output_per_mtok": "5", "cached_input_per_mtok": "0.1"},
        },
    )
    assert negotiated.service_tier_names == {"default", "batch"}
    assert negotiated.cache_write_1h_per_mtok == D("4")
    batch = negotiated.for_service_tier("batch")
    assert batch is not None and (batch.cached_input_per_mtok, batch.source) == (D("0.1"), "config")


def test_a_model_unknown_to_the_registry_priced_in_the_config() -> None:
    sheet = _sheet("acme/house", {"input_per_mtok": 1, "output_per_mtok": 2, "flex": {"input_per_mtok": 0.5,
                                                                                      "output_per_mtok": 1}})
    flex = sheet.for_service_tier("flex")
    assert flex is not None and flex.input_per_mtok == D("0.5") and sheet.for_service_tier("batch") is None


@pytest.mark.parametrize(
    ("price", "where"),
    [
        ({"input_per_mtok": 1, "output_per_mtok": 2, "flex": {"input_per_mtok": 1}}, r"price\.flex\.output_per_mtok"),
        ({"input_per_mtok": 1, "output_per_mtok": 2, "batch": {"input_per_mtok": 1, "output_per_mtok": 2,
                                                                "cache_write_1h_per_mtok": -1}},
         r"price\.batch\.cache_write_1h_per_mtok"),
        ({"input_per_mtok": 1, "output_per_mtok": 2, "turbo": {}}, r"price\.turbo"),
    ],
)
def test_bad_tier_prices_are_reported_at_their_key(price: dict[str, object], where: str) -> None:
    with pytest.raises(ConfigError, match=r"models\[0\]\." + where):
        load_config({"models": [{"name": "acme/m", "quality": 0.5, "price": price}]})
