"""Accounts: users with a role, an Argon2 password hash and one API key kept only as its SHA-256; and which user
submitted which job (so a submitter sees only their own)."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Float, ForeignKey, Integer, String, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from controller.errors import ConflictError
from controller.store.db import Store
from controller.store.models import Base
from controller.store.records import Record

ROLES = ("admin", "operator", "submitter", "viewer")
_HASHER = PasswordHasher()
_DUMMY = _HASHER.hash("not a password of anyone")  # verified for unknown names, so timing does not tell


class UserRow(Base):
    """A person or script allowed in, with one role."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the API key (high entropy)
    created_at: Mapped[float] = mapped_column(Float)


class JobSubmitterRow(Base):
    """The user who submitted a job (jobs from config keys or from before accounts have none)."""

    __tablename__ = "job_submitters"
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), primary_key=True)
    user: Mapped[str] = mapped_column(String(64), index=True)


@dataclass(frozen=True)
class User(Record):
    """A user as the API shows it: never a hash or key."""

    id: int
    name: str
    role: str
    created_at: float


def _user(r: UserRow) -> User:
    """ORM row to record."""
    return User(r.id, r.name, r.role, r.created_at)


def key_digest(key: str) -> str:
    """The stored form of an API key: its SHA-256 (keys are 192 random bits, so no slow hash is needed)."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """A fresh API key."""
    return "pl_" + secrets.token_urlsafe(24)


def create_user(store: Store, name: str, role: str, password: str, t: float) -> tuple[User, str]:
    """Add a user; return it with its API key, which is not kept and cannot be shown again."""
    if role not in ROLES:
        raise ConflictError(f"role {role!r} is not one of {', '.join(ROLES)}")
    key = new_key()
    with store.session() as s:
        if s.scalar(select(UserRow).where(UserRow.name == name)) is not None:
            raise ConflictError(f"a user named {name!r} already exists")
        row = UserRow(name=name, role=role, password_hash=_HASHER.hash(password), key_hash=key_digest(key),
                      created_at=t)
        s.add(row)
        s.flush()
        return _user(row), key


def list_users(store: Store) -> list[User]:
    """Every user, by name."""
    with store.session() as s:
        return [_user(r) for r in s.scalars(select(UserRow).order_by(UserRow.name))]


def count_users(store: Store) -> int:
    """How many users there are (none on a first start)."""
    with store.session() as s:
        return int(s.scalar(select(func.count()).select_from(UserRow)) or 0)


def check_password(store: Store, name: str, password: str) -> User | None:
    """The user if `password` is theirs, else None (an unknown name costs the same time as a wrong password)."""
    with store.session() as s:
        row = s.scalar(select(UserRow).where(UserRow.name == name))
        stored = row.password_hash if row is not None else _DUMMY
        try:
            _HASHER.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        return _user(row) if row is not None else None


def user_by_key(store: Store, key: str) -> User | None:
    """The user whose API key this is, or None."""
    with store.session() as s:
        row = s.scalar(select(UserRow).where(UserRow.key_hash == key_digest(key)))
        return _user(row) if row is not None else None


def set_submitter(store: Store, job_id: int, user: str) -> None:
    """Record who submitted a job."""
    with store.session() as s:
        s.merge(JobSubmitterRow(job_id=job_id, user=user))


def submitter_of(store: Store, job_id: int) -> str | None:
    """The name of the user who submitted a job, or None (a config key, or from before accounts)."""
    with store.session() as s:
        row = s.get(JobSubmitterRow, job_id)
        return row.user if row is not None else None


def jobs_of(store: Store, user: str) -> set[int]:
    """The ids of the jobs a user submitted."""
    with store.session() as s:
        return set(s.scalars(select(JobSubmitterRow.job_id).where(JobSubmitterRow.user == user)))


def bootstrap_admin(store: Store, t: float) -> tuple[str, str] | None:
    """On a first start (no users yet), create `admin` with a random password; return (password, key) to print
    once, else None. Of hosts of a farm starting together on one database, one creates it; the others find it
    made (the name is unique) and create none."""
    if count_users(store):
        return None
    password = secrets.token_urlsafe(12)
    try:
        _, key = create_user(store, "admin", "admin", password, t)
    except (IntegrityError, ConflictError):
        return None
    return password, key
