"""The clause library (docs: ../shared/docs/CLAUSES.md).

Each clause is written in the project's own modern wording and cites its source; placeholders are
``{author}`` (the state giving the pledge) and ``{counterparty}``. The 1933 notes themselves are quoted
documents in the example, not library text.
"""

from __future__ import annotations

from dataclasses import dataclass

from detente.errors import NotFoundError

LIBRARY_VERSION = "detente.clauses/1"


@dataclass(frozen=True)
class Clause:
    """One clause: what is promised, to whom, within which limits, and where it comes from."""

    id: str
    title: str
    text: str
    scope: str
    obligation: str
    limits: str
    source: str

    def render(self, author: str, counterparty: str) -> str:
        """The clause text with the parties filled in."""
        return self.text.format(author=author, counterparty=counterparty)


CLAUSES: tuple[Clause, ...] = (
    Clause(
        "L1", "Non-interference",
        "{author} will respect the right of {counterparty} to order its own life within its own "
        "jurisdiction in its own way, and will not interfere in any manner in the internal affairs of "
        "{counterparty}, its territories or possessions.",
        "the other state and its territories", "no interference in internal affairs in any manner", "",
        "Litvinov to Roosevelt, 16 November 1933, pledge 1 (FRUS 1933 vol. II pp. 805-806)",
    ),
    Clause(
        "L2", "Restraint of agents",
        "{author} will refrain, and will restrain its officials and every organisation under its direct "
        "or indirect control or receiving its financial support, from any act, overt or covert, liable "
        "to injure the tranquillity, prosperity, order or security of {counterparty}, from inciting armed "
        "intervention against it, and from propaganda for violating its territorial integrity or changing "
        "its political or social order by force.",
        "own officials and bodies it controls or funds", "no overt or covert injurious act",
        "the meaning of 'indirect control' was disputed in 1935",
        "Litvinov to Roosevelt, 16 November 1933, pledge 2",
    ),
    Clause(
        "L3", "No hostile armed groups",
        "{author} will not permit on its territory any group that claims to be the government of, or "
        "aims at the territory of, {counterparty}, nor any military organisation aiming at armed struggle "
        "against it, and will prevent recruitment for such groups.",
        "own territory", "permit no hostile claimant or armed group; stop recruitment", "",
        "Litvinov to Roosevelt, 16 November 1933, pledge 3",
    ),
    Clause(
        "L4", "No subversive organisations",
        "{author} will not permit on its territory any organisation or group that aims at the overthrow "
        "or the forcible change of the political or social order of {counterparty}.",
        "own territory", "permit no group aiming at overthrow or forcible change",
        "a carve-out for international organisations was claimed in 1935",
        "Litvinov to Roosevelt, 16 November 1933, pledge 4",
    ),
    Clause(
        "R1", "Reciprocity",
        "{author} will adhere reciprocally to the undertakings of this letter towards {counterparty}, "
        "within the limits of its constitutional and legal powers.",
        "the counterparty", "adhere reciprocally to the listed clauses",
        "within the author's constitutional and legal powers",
        "Roosevelt to Litvinov, 16 November 1933 (history.state.gov frus1933v02/d588)",
    ),
    Clause(
        "C0", "Condition of effect",
        "This letter takes effect together with, and only with, the corresponding letter of "
        "{counterparty} given in exchange for it.",
        "the whole letter", "effective on exchange", "",
        "preamble of the 1933 notes ('coincident with the establishment of diplomatic relations')",
    ),
    Clause(
        "M1", "Elections and ICT",
        "{author} will not intervene in the internal affairs of {counterparty}, including its electoral "
        "processes, by means of information and communication technologies.",
        "internal affairs, elections", "no intervention, including by ICT",
        "to be implemented in a mutually acceptable format",
        "Statement of the President of Russia on ICT security, 25 September 2020",
    ),
    Clause(
        "M2", "No damage to critical infrastructure",
        "{author} will not conduct or knowingly support ICT activity, contrary to its obligations under "
        "international law, that intentionally damages critical infrastructure of {counterparty}, "
        "including state agency services and election bodies, or otherwise impairs its operation.",
        "critical infrastructure", "no intentional damage or impairment by ICT",
        "contrary to international law; knowing support only",
        "UN GGE report A/70/174 (2015), norm 13(f)",
    ),
    Clause(
        "M3", "Use of territory",
        "{author} will not knowingly allow its territory to be used for internationally wrongful acts "
        "against {counterparty} using ICT.",
        "own territory", "not knowingly allow wrongful ICT acts from it", "knowledge threshold",
        "UN GGE report A/70/174 (2015), norm 13(c)",
    ),
    Clause(
        "M4", "Assistance on request",
        "{author} will respond to appropriate requests of {counterparty} to mitigate malicious ICT "
        "activity aimed at its critical infrastructure that emanates from the territory of {author}.",
        "requests by the other", "respond to requests to mitigate", "'appropriate'; sovereignty",
        "UN GGE report A/70/174 (2015), norm 13(h)",
    ),
    Clause(
        "M5", "Direct channels",
        "{author} will keep direct channels with {counterparty}, between the competent agencies and "
        "between their computer emergency response teams, for the notification of incidents.",
        "agencies", "keep hotlines and CERT-to-CERT channels", "",
        "Statement of the President of Russia on ICT security, 25 September 2020",
    ),
    Clause(
        "M6", "Electoral capacity",
        "{author} will strengthen the resilience of its own electoral processes against interference "
        "through ICT.",
        "own elections", "strengthen resilience", "non-binding",
        "Paris Call for Trust and Security in Cyberspace (2018), principle 3",
    ),
)  # fmt: skip

_BY_ID = {clause.id: clause for clause in CLAUSES}


def clause(clause_id: str) -> Clause:
    """Return a clause by id.

    Raises:
        NotFoundError: no such clause in this library version.
    """
    found = _BY_ID.get(clause_id)
    if found is None:
        raise NotFoundError(f"no clause {clause_id!r} in {LIBRARY_VERSION}")
    return found
