"""Two first sign-ins of one person at once (two browser tabs): the second waits for the first's
new user and signs in as that user instead of being refused as a username collision."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, transaction

from identity import actions
from identity.models import ExternalIdentity, IdentityProvider
from portal.errors import Conflict
from portal.models import User

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_first_sign_ins_of_one_person_make_one_user() -> None:
    provider = IdentityProvider.objects.create(name="race-idp", kind="oidc", config={})
    created = threading.Event()
    release = threading.Event()
    results: dict[str, Any] = {}

    def first() -> None:
        try:
            with transaction.atomic():  # holds the new user uncommitted until the second one waits on it
                results["first"] = actions.sign_in_external(provider=provider, subject="race-1", username="racer",
                                                            groups=["devs"])
                created.set()
                release.wait(10)
        finally:
            connection.close()

    def second() -> None:
        try:
            created.wait(10)
            results["second"] = actions.sign_in_external(provider=provider, subject="race-1", username="racer",
                                                         groups=["devs", "ops"])
        except Conflict as exc:
            results["second"] = exc
        finally:
            connection.close()

    a, b = threading.Thread(target=first), threading.Thread(target=second)
    a.start()
    b.start()
    created.wait(10)
    b.join(1.5)  # the second's insert is now waiting on the first's uncommitted user
    assert b.is_alive(), "the second sign-in did not wait for the first"
    release.set()
    a.join(10)
    b.join(10)
    assert isinstance(results["second"], User), results["second"]
    assert results["second"].pk == results["first"].pk
    assert User.objects.filter(username="racer").count() == 1
    assert ExternalIdentity.objects.get(provider=provider, subject="race-1").groups == ["devs", "ops"]


def test_a_different_person_with_the_name_at_the_same_time_is_still_refused() -> None:
    provider = IdentityProvider.objects.create(name="race-idp-2", kind="oidc", config={})
    created = threading.Event()
    release = threading.Event()
    results: dict[str, Any] = {}

    def first() -> None:
        try:
            with transaction.atomic():
                actions.sign_in_external(provider=provider, subject="person-a", username="samename", groups=[])
                created.set()
                release.wait(10)
        finally:
            connection.close()

    def second() -> None:
        try:
            created.wait(10)
            results["second"] = actions.sign_in_external(provider=provider, subject="person-b", username="samename",
                                                         groups=[])
        except Conflict as exc:
            results["second"] = exc
        finally:
            connection.close()

    a, b = threading.Thread(target=first), threading.Thread(target=second)
    a.start()
    b.start()
    created.wait(10)
    b.join(1.5)
    release.set()
    a.join(10)
    b.join(10)
    assert isinstance(results["second"], Conflict)
    assert results["second"].code == "username_taken"
    assert ExternalIdentity.objects.filter(username="samename").count() == 1
