// German words for what the API returns, and formats.

export const STATUS = { not_started: "nicht begonnen", in_progress: "in Arbeit", blocked: "blockiert", live: "in Betrieb", cancelled: "beendet" };
export const STEP_STATUS = {
  waiting: "wartet", ready: "bereit", in_progress: "in Arbeit", awaiting_confirmation: "wartet auf Bestätigung",
  done: "erledigt", not_required: "nicht erforderlich", not_applicable: "entfällt",
};
export const ROLE = { admin: "Administration", "project-manager": "Projektleitung", "authority-staff": "Verwaltung", automation: "Automatisierung", auditor: "Prüfung", "association-staff": "Verband" };
export const KIND = {
  land: "Land", landkreis: "Landkreis", kreisfreie_stadt: "kreisfreie Stadt", amt: "Amt", verbandsgemeinde: "Verbandsgemeinde",
  mitverwaltende_gemeinde: "mitverwaltende Gemeinde", amtsfreie_gemeinde: "amtsfreie Gemeinde", zweckverband: "Zweckverband",
};
export const EVENT = {
  RolloutStarted: "Anbindung begonnen", StepStarted: "Schritt begonnen", StepCompleted: "Schritt erledigt",
  StepConfirmed: "Schritt bestätigt (Vier-Augen-Prinzip)", StepReopened: "Schritt wieder geöffnet",
  StepMarkedNotRequired: "Schritt als nicht erforderlich markiert", RolloutBlocked: "blockiert", RolloutUnblocked: "Blockade aufgehoben",
  CommentAdded: "Kommentar", RolloutAssigned: "zugewiesen", DueDateSet: "Frist gesetzt", DefinitionMigrated: "auf neue Version umgestellt",
  RolloutCancelled: "beendet", LandStepChanged: "Schritt auf Landesebene geändert", StepOverdue: "Frist überschritten",
  RolloutTransferred: "übertragen (Gebietsänderung)", RolloutTakenOver: "übernommen (Gebietsänderung)",
  AuthorityRegistered: "Verwaltung registriert", AuthorityChanged: "Verwaltung geändert", AuthorityDissolved: "Verwaltung aufgelöst",
  ServiceRegistered: "Dienst registriert", ServiceChanged: "Dienst geändert", ServiceDefinitionSet: "Ablauf des Dienstes geändert",
  DefinitionPublished: "Ablauf veröffentlicht", TokenIssued: "Token ausgegeben", TokenRevoked: "Token widerrufen",
  PersonRegistered: "Person erfasst", PersonLeft: "Person ausgeschieden", PersonErased: "Person gelöscht",
  QuestionAsked: "Rückfrage gestellt", QuestionAnswered: "Rückfrage beantwortet", QuestionResolved: "Rückfrage erledigt",
  QuestionReopened: "Rückfrage wieder geöffnet", QuestionRead: "Rückfrage gelesen", StoreCopied: "Speicher umgeschlüsselt kopiert",
  BlockageEscalated: "Blockade eskaliert", ContactConsentGiven: "Einwilligung als Ansprechperson", ContactConsentWithdrawn: "Einwilligung widerrufen",
};
export const ACTION = {
  startStep: "Beginnen", completeStep: "Erledigt melden …", confirmStep: "Bestätigen …",
  reopenStep: "Wieder öffnen …", markStepNotRequired: "Nicht erforderlich …",
};
export const ERROR = {
  REJECTED: "Abgelehnt", CONFLICT: "Inzwischen geändert", FORBIDDEN: "Nicht erlaubt", UNAUTHENTICATED: "Nicht angemeldet",
  BAD_USER_INPUT: "Ungültige Eingabe", NOT_FOUND: "Nicht gefunden", LIMIT_EXCEEDED: "Zu groß", INTERNAL: "Serverfehler",
};

export const fmtTime = (iso) => iso ? new Date(iso).toLocaleString("de-DE", { dateStyle: "medium", timeStyle: "short" }) : "";
export const fmtDate = (iso) => iso ? new Date(iso).toLocaleDateString("de-DE", { dateStyle: "medium" }) : "";
export const pct = (x) => (Math.round(x * 10) / 10).toLocaleString("de-DE") + " %";
export const PARTY = { ADMINISTRATION: "die Verwaltung", LAND: "das Land", ASSOCIATION: "der Verband", PROJECT_TEAM: "das Projektteam" };
export const BLOCK_CATEGORY = {
  FACHVERFAHREN: "Fachverfahren / Hersteller", VERTRAG_RECHT: "Vertrag und Recht", TECHNIK: "Technik und Anbindung",
  PERSONAL: "Personal", FINANZIERUNG: "Finanzierung", LAND_BUND: "Land / Bund", SONSTIGES: "Sonstiges",
};
export const BLOCK_CATEGORY_STORED = {
  fachverfahren: "FACHVERFAHREN", vertrag_recht: "VERTRAG_RECHT", technik: "TECHNIK", personal: "PERSONAL",
  finanzierung: "FINANZIERUNG", land_bund: "LAND_BUND", sonstiges: "SONSTIGES",
};
