/// The admin API's OpenAPI 3.1 document. A test checks that it lists exactly the routes
/// `AdminAPI` registers, and CI validates it with openapi-spec-validator.
enum OpenAPIDocument {
    static let json = #"""
{
 "components": {
  "responses": {
   "Problem400": {
    "content": {
     "application/problem+json": {
      "schema": {
       "$ref": "#/components/schemas/Problem"
      }
     }
    },
    "description": "Bad request"
   },
   "Problem401": {
    "content": {
     "application/problem+json": {
      "schema": {
       "$ref": "#/components/schemas/Problem"
      }
     }
    },
    "description": "Unauthenticated"
   },
   "Problem403": {
    "content": {
     "application/problem+json": {
      "schema": {
       "$ref": "#/components/schemas/Problem"
      }
     }
    },
    "description": "Forbidden"
   },
   "Problem404": {
    "content": {
     "application/problem+json": {
      "schema": {
       "$ref": "#/components/schemas/Problem"
      }
     }
    },
    "description": "Not found"
   },
   "Problem409": {
    "content": {
     "application/problem+json": {
      "schema": {
       "$ref": "#/components/schemas/Problem"
      }
     }
    },
    "description": "Conflict"
   },
   "Problem412": {
    "content": {
     "application/problem+json": {
      "schema": {
       "$ref": "#/components/schemas/Problem"
      }
     }
    },
    "description": "Precondition failed"
   },
   "Problem413": {
    "content": {
     "application/problem+json": {
      "schema": {
       "$ref": "#/components/schemas/Problem"
      }
     }
    },
    "description": "Content too large"
   },
   "Problem415": {
    "content": {
     "application/problem+json": {
      "schema": {
       "$ref": "#/components/schemas/Problem"
      }
     }
    },
    "description": "Unsupported media type"
   },
   "Problem422": {
    "content": {
     "application/problem+json": {
      "schema": {
       "$ref": "#/components/schemas/Problem"
      }
     }
    },
    "description": "Validation failed"
   }
  },
  "schemas": {
   "Application": {
    "properties": {
     "client_secret": {
      "description": "Only in the response that created a confidential client",
      "type": "string"
     },
     "created_at": {
      "format": "date-time",
      "type": "string"
     },
     "id": {
      "type": "string"
     },
     "name": {
      "type": "string"
     },
     "oidc": {
      "properties": {
       "access_token_lifetime": {
        "type": "integer"
       },
       "allowed_scopes": {
        "items": {
         "type": "string"
        },
        "type": "array"
       },
       "client_id": {
        "type": "string"
       },
       "consent": {
        "description": "implicit (default): first-party, no consent page; required: users approve the requested scopes and claims once",
        "enum": [
         "implicit",
         "required"
        ],
        "type": "string"
       },
       "default_acr_values": {
        "description": "acr values asked for when a request names none (phrh, phr, urn:sigil:acr:authenticator)",
        "items": {
         "type": "string"
        },
        "type": "array"
       },
       "grant_types": {
        "items": {
         "type": "string"
        },
        "type": "array"
       },
       "id_token_lifetime": {
        "type": "integer"
       },
       "id_token_signed_response_alg": {
        "enum": [
         "RS256",
         "ES256",
         "EdDSA"
        ],
        "type": "string"
       },
       "backchannel_logout_session_required": {
        "type": "boolean"
       },
       "backchannel_logout_uri": {
        "description": "OpenID Connect Back-Channel Logout: https (http only on loopback); an empty string removes it",
        "type": "string"
       },
       "post_logout_redirect_uris": {
        "items": {
         "type": "string"
        },
        "type": "array"
       },
       "redirect_uris": {
        "items": {
         "type": "string"
        },
        "type": "array"
       },
       "refresh_token_lifetime": {
        "type": "integer"
       },
       "require_par": {
        "type": "boolean"
       },
       "require_pkce": {
        "type": "boolean"
       },
       "token_endpoint_auth_method": {
        "enum": [
         "client_secret_basic",
         "client_secret_post",
         "private_key_jwt",
         "none"
        ],
        "type": "string"
       },
       "jwks": {
        "type": "object"
       },
       "jwks_uri": {
        "format": "uri",
        "type": "string"
       },
       "previous_secret_expires_at": {
        "description": "While a rotated-out secret is still accepted",
        "format": "date-time",
        "type": "string"
       }
      },
      "type": "object"
     },
     "protocol": {
      "enum": [
       "oidc",
       "saml"
      ],
      "type": "string"
     },
     "saml": {
      "properties": {
       "acs": {
        "items": {
         "additionalProperties": false,
         "properties": {
          "binding": {
           "type": "string"
          },
          "index": {
           "type": "integer"
          },
          "is_default": {
           "type": "boolean"
          },
          "url": {
           "format": "uri",
           "type": "string"
          }
         },
         "required": [
          "url"
         ],
         "type": "object"
        },
        "type": "array"
       },
       "attribute_mappings": {
        "items": {
         "additionalProperties": false,
         "properties": {
          "name": {
           "type": "string"
          },
          "name_format": {
           "type": "string"
          },
          "user_field": {
           "enum": [
            "id",
            "email",
            "given_name",
            "family_name",
            "amr"
           ],
           "type": "string"
          }
         },
         "required": [
          "name",
          "user_field"
         ],
         "type": "object"
        },
        "type": "array"
       },
       "authn_context_class_ref": {
        "type": "string"
       },
       "want_authn_requests_signed": {
        "description": "refuse AuthnRequests not signed with the SP certificate",
        "type": "boolean"
       },
       "certificate": {
        "description": "PEM",
        "type": "string"
       },
       "encrypt_assertions": {
        "description": "Encrypt the (signed) assertion to the SP: AES-256-GCM, RSA-OAEP (docs/saml.md)",
        "type": "boolean"
       },
       "encryption_certificate": {
        "description": "PEM; the SP's encryption certificate when it is not `certificate`",
        "type": "string"
       },
       "entity_id": {
        "type": "string"
       },
       "name_id_format": {
        "type": "string"
       },
       "signing": {
        "enum": [
         "assertion",
         "response",
         "both"
        ],
        "type": "string"
       },
       "slo_url": {
        "type": "string"
       },
       "slo_binding": {
        "enum": [
         "post",
         "redirect"
        ],
        "type": "string"
       }
      },
      "type": "object"
     },
     "updated_at": {
      "format": "date-time",
      "type": "string"
     },
     "version": {
      "type": "integer"
     }
    },
    "type": "object"
   },
   "AuditEvent": {
    "properties": {
     "action": {
      "type": "string"
     },
     "actor": {
      "type": "string"
     },
     "after": {
      "additionalProperties": {
       "type": "string"
      },
      "type": [
       "object",
       "null"
      ]
     },
     "before": {
      "additionalProperties": {
       "type": "string"
      },
      "type": [
       "object",
       "null"
      ]
     },
     "id": {
      "type": "string"
     },
     "occurred_at": {
      "format": "date-time",
      "type": "string"
     },
     "outcome": {
      "enum": [
       "success",
       "failure"
      ],
      "type": "string"
     },
     "reason": {
      "type": [
       "string",
       "null"
      ]
     },
     "target_id": {
      "type": [
       "string",
       "null"
      ]
     },
     "target_type": {
      "type": [
       "string",
       "null"
      ]
     }
    },
    "type": "object"
   },
   "Consent": {
    "properties": {
     "application_id": {
      "type": [
       "string",
       "null"
      ]
     },
     "application_name": {
      "description": "null when the application was deleted",
      "type": [
       "string",
       "null"
      ]
     },
     "claims": {
      "items": {
       "type": "string"
      },
      "type": "array"
     },
     "client_id": {
      "type": "string"
     },
     "created_at": {
      "format": "date-time",
      "type": "string"
     },
     "scopes": {
      "items": {
       "type": "string"
      },
      "type": "array"
     },
     "updated_at": {
      "format": "date-time",
      "type": "string"
     }
    },
    "required": [
     "client_id",
     "scopes",
     "claims",
     "created_at",
     "updated_at"
    ],
    "type": "object"
   },
   "CreateApplication": {
    "additionalProperties": false,
    "properties": {
     "access_token_lifetime": {
      "type": "integer",
      "minimum": 30,
      "maximum": 86400
     },
     "acs": {
      "items": {
       "additionalProperties": false,
       "properties": {
        "binding": {
         "type": "string"
        },
        "index": {
         "type": "integer",
         "minimum": 0,
         "maximum": 65535,
         "description": "SAML unsignedShort"
        },
        "is_default": {
         "type": "boolean"
        },
        "url": {
         "format": "uri",
         "type": "string"
        }
       },
       "required": [
        "url"
       ],
       "type": "object"
      },
      "type": "array"
     },
     "allowed_scopes": {
      "items": {
       "type": "string"
      },
      "type": "array"
     },
     "attribute_mappings": {
      "items": {
       "additionalProperties": false,
       "properties": {
        "name": {
         "type": "string"
        },
        "name_format": {
         "type": "string"
        },
        "user_field": {
         "enum": [
          "id",
          "email",
          "given_name",
          "family_name",
          "amr"
         ],
         "type": "string"
        }
       },
       "required": [
        "name",
        "user_field"
       ],
       "type": "object"
      },
      "type": "array"
     },
     "authn_context_class_ref": {
      "type": "string"
     },
     "consent": {
      "description": "implicit (default): first-party, no consent page; required: users approve the requested scopes and claims once",
      "enum": [
       "implicit",
       "required"
      ],
      "type": "string"
     },
     "default_acr_values": {
      "description": "acr values asked for when a request names none (phrh, phr, urn:sigil:acr:authenticator)",
      "items": {
       "type": "string"
      },
      "type": "array"
     },
     "want_authn_requests_signed": {
      "description": "refuse AuthnRequests not signed with the SP certificate",
      "type": "boolean"
     },
     "certificate": {
      "description": "PEM",
      "type": "string"
     },
     "encrypt_assertions": {
      "description": "Encrypt the (signed) assertion to the SP: AES-256-GCM, RSA-OAEP (docs/saml.md)",
      "type": "boolean"
     },
     "encryption_certificate": {
      "description": "PEM; the SP's encryption certificate when it is not `certificate`",
      "type": "string"
     },
     "entity_id": {
      "type": "string"
     },
     "grant_types": {
      "items": {
       "type": "string"
      },
      "type": "array"
     },
     "id_token_lifetime": {
      "type": "integer",
      "minimum": 30,
      "maximum": 86400
     },
     "id_token_signed_response_alg": {
      "enum": [
       "RS256",
       "ES256",
       "EdDSA"
      ],
      "type": "string"
     },
     "name": {
      "type": "string"
     },
     "name_id_format": {
      "type": "string"
     },
     "backchannel_logout_session_required": {
      "type": "boolean"
     },
     "backchannel_logout_uri": {
      "description": "OpenID Connect Back-Channel Logout: https (http only on loopback); an empty string removes it",
      "type": "string"
     },
     "post_logout_redirect_uris": {
      "items": {
       "type": "string"
      },
      "type": "array"
     },
     "protocol": {
      "enum": [
       "oidc",
       "saml"
      ],
      "type": "string"
     },
     "public": {
      "type": "boolean"
     },
     "redirect_uris": {
      "items": {
       "type": "string"
      },
      "type": "array"
     },
     "refresh_token_lifetime": {
      "type": "integer",
      "minimum": 60,
      "maximum": 31536000
     },
     "require_par": {
      "type": "boolean"
     },
     "require_pkce": {
      "type": "boolean"
     },
     "signing": {
      "enum": [
       "assertion",
       "response",
       "both"
      ],
      "type": "string"
     },
     "slo_url": {
      "type": "string"
     },
     "slo_binding": {
      "enum": [
       "post",
       "redirect"
      ],
      "type": "string"
     },
     "token_endpoint_auth_method": {
      "enum": [
       "client_secret_basic",
       "client_secret_post",
       "private_key_jwt",
       "none"
      ],
      "type": "string"
     },
     "jwks": {
      "description": "For private_key_jwt: the client's public keys, a JWKS object (private members are refused). Setting it removes jwks_uri.",
      "type": "object",
      "properties": {
       "keys": {
        "type": "array",
        "items": {
         "type": "object"
        }
       }
      },
      "required": [
       "keys"
      ]
     },
     "jwks_uri": {
      "description": "For private_key_jwt: the https URL the client publishes its JWKS at (http only on loopback). Fetched on use, cached for its max-age (5 min to 1 day), refetched at most once a minute when a signature fails. Setting it removes jwks.",
      "format": "uri",
      "type": "string"
     },
     "metadata_url": {
      "description": "SAML: fetch the SP's metadata from this https URL (http only on loopback); other SAML fields sent alongside override it",
      "format": "uri",
      "type": "string"
     },
     "metadata": {
      "description": "SAML: the SP's metadata XML (EntityDescriptor with an SPSSODescriptor); other SAML fields sent alongside override it",
      "type": "string"
     }
    },
    "required": [
     "name",
     "protocol"
    ],
    "type": "object"
   },
   "CreateTenant": {
    "additionalProperties": false,
    "properties": {
     "display_name": {
      "type": "string",
      "minLength": 1,
      "maxLength": 200,
      "pattern": "\\S"
     },
     "host": {
      "type": "string",
      "pattern": "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*(:[0-9]{1,5})?$",
      "maxLength": 253
     },
     "name": {
      "pattern": "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
      "type": "string"
     }
    },
    "required": [
     "name"
    ],
    "type": "object"
   },
   "CreateUser": {
    "additionalProperties": false,
    "properties": {
     "email": {
      "format": "email",
      "type": "string",
      "maxLength": 254
     },
     "family_name": {
      "type": "string",
      "minLength": 1,
      "maxLength": 200,
      "pattern": "\\S"
     },
     "given_name": {
      "type": "string",
      "minLength": 1,
      "maxLength": 200,
      "pattern": "\\S"
     },
     "status": {
      "enum": [
       "active",
       "disabled"
      ],
      "type": "string"
     }
    },
    "required": [
     "email",
     "given_name",
     "family_name"
    ],
    "type": "object"
   },
   "Key": {
    "properties": {
     "alg": {
      "type": "string"
     },
     "created_at": {
      "format": "date-time",
      "type": "string"
     },
     "kid": {
      "type": "string"
     },
     "state": {
      "enum": [
       "next",
       "current",
       "previous",
       "retired"
      ],
      "type": "string"
     },
     "updated_at": {
      "format": "date-time",
      "type": "string"
     }
    },
    "type": "object"
   },
   "PatchApplication": {
    "additionalProperties": false,
    "properties": {
     "access_token_lifetime": {
      "type": "integer",
      "minimum": 30,
      "maximum": 86400
     },
     "acs": {
      "items": {
       "additionalProperties": false,
       "properties": {
        "binding": {
         "type": "string"
        },
        "index": {
         "type": "integer",
         "minimum": 0,
         "maximum": 65535,
         "description": "SAML unsignedShort"
        },
        "is_default": {
         "type": "boolean"
        },
        "url": {
         "format": "uri",
         "type": "string"
        }
       },
       "required": [
        "url"
       ],
       "type": "object"
      },
      "type": "array"
     },
     "allowed_scopes": {
      "items": {
       "type": "string"
      },
      "type": "array"
     },
     "attribute_mappings": {
      "items": {
       "additionalProperties": false,
       "properties": {
        "name": {
         "type": "string"
        },
        "name_format": {
         "type": "string"
        },
        "user_field": {
         "enum": [
          "id",
          "email",
          "given_name",
          "family_name",
          "amr"
         ],
         "type": "string"
        }
       },
       "required": [
        "name",
        "user_field"
       ],
       "type": "object"
      },
      "type": "array"
     },
     "authn_context_class_ref": {
      "type": "string"
     },
     "consent": {
      "description": "implicit (default): first-party, no consent page; required: users approve the requested scopes and claims once",
      "enum": [
       "implicit",
       "required"
      ],
      "type": "string"
     },
     "default_acr_values": {
      "description": "acr values asked for when a request names none (phrh, phr, urn:sigil:acr:authenticator)",
      "items": {
       "type": "string"
      },
      "type": "array"
     },
     "want_authn_requests_signed": {
      "description": "refuse AuthnRequests not signed with the SP certificate",
      "type": "boolean"
     },
     "certificate": {
      "description": "PEM",
      "type": "string"
     },
     "encrypt_assertions": {
      "description": "Encrypt the (signed) assertion to the SP: AES-256-GCM, RSA-OAEP (docs/saml.md)",
      "type": "boolean"
     },
     "encryption_certificate": {
      "description": "PEM; the SP's encryption certificate when it is not `certificate`",
      "type": "string"
     },
     "entity_id": {
      "type": "string"
     },
     "grant_types": {
      "items": {
       "type": "string"
      },
      "type": "array"
     },
     "id_token_lifetime": {
      "type": "integer",
      "minimum": 30,
      "maximum": 86400
     },
     "id_token_signed_response_alg": {
      "enum": [
       "RS256",
       "ES256",
       "EdDSA"
      ],
      "type": "string"
     },
     "name": {
      "type": "string"
     },
     "name_id_format": {
      "type": "string"
     },
     "backchannel_logout_session_required": {
      "type": "boolean"
     },
     "backchannel_logout_uri": {
      "description": "OpenID Connect Back-Channel Logout: https (http only on loopback); an empty string removes it",
      "type": "string"
     },
     "post_logout_redirect_uris": {
      "items": {
       "type": "string"
      },
      "type": "array"
     },
     "redirect_uris": {
      "items": {
       "type": "string"
      },
      "type": "array"
     },
     "refresh_token_lifetime": {
      "type": "integer",
      "minimum": 60,
      "maximum": 31536000
     },
     "require_par": {
      "type": "boolean"
     },
     "require_pkce": {
      "type": "boolean"
     },
     "signing": {
      "enum": [
       "assertion",
       "response",
       "both"
      ],
      "type": "string"
     },
     "slo_url": {
      "type": "string"
     },
     "slo_binding": {
      "enum": [
       "post",
       "redirect"
      ],
      "type": "string"
     },
     "token_endpoint_auth_method": {
      "enum": [
       "client_secret_basic",
       "client_secret_post",
       "private_key_jwt",
       "none"
      ],
      "type": "string"
     },
     "jwks": {
      "description": "For private_key_jwt: the client's public keys, a JWKS object (private members are refused). Setting it removes jwks_uri.",
      "type": "object",
      "properties": {
       "keys": {
        "type": "array",
        "items": {
         "type": "object"
        }
       }
      },
      "required": [
       "keys"
      ]
     },
     "jwks_uri": {
      "description": "For private_key_jwt: the https URL the client publishes its JWKS at (http only on loopback). Fetched on use, cached for its max-age (5 min to 1 day), refetched at most once a minute when a signature fails. Setting it removes jwks.",
      "format": "uri",
      "type": "string"
     }
    },
    "type": "object"
   },
   "PatchUser": {
    "additionalProperties": false,
    "properties": {
     "email": {
      "format": "email",
      "type": "string",
      "maxLength": 254
     },
     "family_name": {
      "type": "string",
      "minLength": 1,
      "maxLength": 200,
      "pattern": "\\S"
     },
     "given_name": {
      "type": "string",
      "minLength": 1,
      "maxLength": 200,
      "pattern": "\\S"
     },
     "status": {
      "enum": [
       "active",
       "disabled"
      ],
      "type": "string"
     }
    },
    "type": "object"
   },
   "Problem": {
    "description": "RFC 9457 problem details",
    "properties": {
     "detail": {
      "type": "string"
     },
     "errors": {
      "items": {
       "properties": {
        "field": {
         "type": "string"
        },
        "message": {
         "type": "string"
        }
       },
       "type": "object"
      },
      "type": "array"
     },
     "instance": {
      "type": "string"
     },
     "status": {
      "type": "integer"
     },
     "title": {
      "type": "string"
     },
     "type": {
      "type": "string"
     }
    },
    "required": [
     "type",
     "title",
     "status"
    ],
    "type": "object"
   },
   "Tenant": {
    "properties": {
     "created_at": {
      "format": "date-time",
      "type": "string"
     },
     "display_name": {
      "type": "string"
     },
     "host": {
      "type": [
       "string",
       "null"
      ]
     },
     "id": {
      "type": "string"
     },
     "issuer": {
      "type": "string"
     },
     "name": {
      "type": "string"
     }
    },
    "type": "object"
   },
   "User": {
    "properties": {
     "created_at": {
      "format": "date-time",
      "type": "string"
     },
     "email": {
      "type": "string"
     },
     "family_name": {
      "type": "string"
     },
     "given_name": {
      "type": "string"
     },
     "id": {
      "type": "string"
     },
     "status": {
      "enum": [
       "active",
       "disabled"
      ],
      "type": "string"
     },
     "updated_at": {
      "format": "date-time",
      "type": "string"
     },
     "version": {
      "type": "integer"
     }
    },
    "type": "object"
   },
   "Passkey": {
    "properties": {
     "aaguid": {
      "type": "string"
     },
     "backup_eligible": {
      "type": "boolean"
     },
     "clone_warning": {
      "description": "set when a sign-in presented a signature counter that did not increase; such a passkey cannot sign in until the warning is cleared",
      "type": "boolean"
     },
     "created_at": {
      "format": "date-time",
      "type": "string"
     },
     "credential_id": {
      "type": "string"
     },
     "last_used_at": {
      "format": "date-time",
      "type": [
       "string",
       "null"
      ]
     },
     "name": {
      "type": "string"
     },
     "sign_count": {
      "type": "integer"
     },
     "user_id": {
      "type": "string"
     }
    },
    "required": [
     "credential_id",
     "user_id",
     "name",
     "aaguid",
     "backup_eligible",
     "sign_count",
     "clone_warning",
     "created_at"
    ],
    "type": "object"
   }
  },
  "securitySchemes": {
   "bearerAuth": {
    "description": "An admin token from `sigil admin token create`",
    "scheme": "bearer",
    "type": "http"
   }
  }
 },
 "info": {
  "description": "Administer a Sigil tenant. The tenant is the one the request's host or /t/{tenant}/ prefix selects. Errors are RFC 9457 problem+json.",
  "title": "Sigil admin API",
  "version": "0.1.0"
 },
 "openapi": "3.1.0",
 "paths": {
  "/api/admin/v1/applications": {
   "get": {
    "operationId": "listApplications",
    "parameters": [
     {
      "in": "query",
      "name": "limit",
      "schema": {
       "default": 50,
       "maximum": 200,
       "minimum": 1,
       "type": "integer"
      }
     },
     {
      "description": "next_cursor of the previous page",
      "in": "query",
      "name": "cursor",
      "schema": {
       "type": "string"
      }
     }
    ],
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "properties": {
          "items": {
           "items": {
            "$ref": "#/components/schemas/Application"
           },
           "type": "array"
          },
          "next_cursor": {
           "type": [
            "string",
            "null"
           ]
          }
         },
         "required": [
          "items"
         ],
         "type": "object"
        }
       }
      },
      "description": "A page of applications"
     },
     "400": {
      "$ref": "#/components/responses/Problem400"
     },
     "401": {
      "$ref": "#/components/responses/Problem401"
     },
     "403": {
      "$ref": "#/components/responses/Problem403"
     }
    },
    "security": [
     {
      "bearerAuth": []
     }
    ],
    "summary": "List applications",
    "tags": [
     "admin"
    ]
   },
   "post": {
    "operationId": "createApplication",
    "requestBody": {
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/CreateApplication"
       }
      }
     },
     "required": true
    },
    "responses": {
     "201": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Application"
        }
       }
      },
      "description": "Created (with client_secret for confidential OIDC clients)"
     },
     "400": {
      "$ref": "#/components/responses/Problem400"
     },
     "401": {
      "$ref": "#/components/responses/Problem401"
     },
     "403": {
      "$ref": "#/components/responses/Problem403"
     },
     "409": {
      "$ref": "#/components/responses/Problem409"
     },
     "413": {
      "$ref": "#/components/responses/Problem413"
     },
     "415": {
      "$ref": "#/components/responses/Problem415"
     },
     "422": {
      "$ref": "#/components/responses/Problem422"
     }
    },
    "security": [
     {
      "bearerAuth": []
     }
    ],
    "summary": "Register an OIDC client or SAML service provider; an OIDC client's secret is returned once",
    "tags": [
     "admin"
    ]
   }
  },
  "/api/admin/v1/applications/{id}": {
   "delete": {
    "operationId": "deleteApplication",
    "parameters": [
     {
      "in": "path",
      "name": "id",
      "required": true,
      "schema": {
       "type": "string"
      }
     },
     {
      "description": "ETag from a previous read; the change is refused with 412 if the resource changed since",
      "in": "header",
      "name": "If-Match",
      "required": false,
      "schema": {
       "pattern": "^(|\\*|(W/)?\"[0-9]+\")$",
       "type": "string"
      }
     }
    ],
    "responses": {
     "204": {
      "description": "Deleted"
     },
     "400": {
      "$ref": "#/components/responses/Problem400"
     },
     "401": {
      "$ref": "#/components/responses/Problem401"
     },
     "403": {
      "$ref": "#/components/responses/Problem403"
     },
     "404": {
      "$ref": "#/components/responses/Problem404"
     },
     "412": {
      "$ref": "#/components/responses/Problem412"
     }
    },
    "security": [
     {
      "bearerAuth": []
     }
    ],
    "summary": "Delete an application",
    "tags": [
     "admin"
    ]
   },
   "get": {
    "operationId": "getApplication",
    "parameters": [
     {
      "in": "path",
      "name": "id",
      "required": true,
      "schema": {
       "type": "string"
      }
     }
    ],
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Application"
        }
       }
      },
      "description": "The application"
     },
     "401": {
      "$ref": "#/components/responses/Problem401"
     },
     "403": {
      "$ref": "#/components/responses/Problem403"
     },
     "404": {
      "$ref": "#/components/responses/Problem404"
     }
    },
    "security": [
     {
      "bearerAuth": []
     }
    ],
    "summary": "Read an application",
    "tags": [
     "admin"
    ]
   },
   "patch": {
    "operationId": "updateApplication",
    "parameters": [
     {
      "in": "path",
      "name": "id",
      "required": true,
      "schema": {
       "type": "string"
      }
     },
     {
      "description": "ETag from a previous read; the change is refused with 412 if the resource changed since",
      "in": "header",
      "name": "If-Match",
      "required": false,
      "schema": {
       "pattern": "^(|\\*|(W/)?\"[0-9]+\")$",
       "type": "string"
      }
     }
    ],
    "requestBody": {
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/PatchApplication"
       }
      }
     },
     "required": true
    },
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Application"
        }
       }
      },
      "description": "Updated"
     },
     "400": {
      "$ref": "#/components/responses/Problem400"
     },
     "401": {
      "$ref": "#/components/responses/Problem401"
     },
     "403": {
      "$ref": "#/components/responses/Problem403"
     },
     "404": {
      "$ref": "#/components/responses/Problem404"
     },
     "409": {
      "$ref": "#/components/responses/Problem409"
     },
     "412": {
      "$ref": "#/components/responses/Problem412"
     },
     "413": {
      "$ref": "#/components/responses/Problem413"
     },
     "415": {
      "$ref": "#/components/responses/Problem415"
     },
     "422": {
      "$ref": "#/components/responses/Problem422"
     }
    },
    "security": [
     {
      "bearerAuth": []
     }
    ],
    "summary": "Change an application (the whole result is validated)",
    "tags": [
     "admin"
    ]
   }
  },
  "/api/admin/v1/applications/{id}/client-secret": {
   "post": {
    "operationId": "rotateClientSecret",
    "parameters": [
     {
      "in": "path",
      "name": "id",
      "required": true,
      "schema": {
       "type": "string"
      }
     },
     {
      "description": "ETag from a previous read; the change is refused with 412 if the resource changed since",
      "in": "header",
      "name": "If-Match",
      "required": false,
      "schema": {
       "pattern": "^(|\\*|(W/)?\"[0-9]+\")$",
       "type": "string"
      }
     }
    ],
    "requestBody": {
     "content": {
      "application/json": {
       "schema": {
        "additionalProperties": false,
        "properties": {
         "grace_period": {
          "description": "Seconds the old secret keeps working (0 to 604800; default 0, it stops at once)",
          "maximum": 604800,
          "minimum": 0,
          "type": "integer"
         }
        },
        "type": "object"
       }
      }
     },
     "required": true
    },
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "properties": {
          "application": {
           "$ref": "#/components/schemas/Application"
          },
          "client_secret": {
           "type": "string"
          },
          "previous_secret_expires_at": {
           "format": "date-time",
           "type": "string"
          }
         },
         "required": [
          "application",
          "client_secret"
         ],
         "type": "object"
        }
       }
      },
      "description": "Rotated"
     },
     "400": {
      "$ref": "#/components/responses/Problem400"
     },
     "401": {
      "$ref": "#/components/responses/Problem401"
     },
     "403": {
      "$ref": "#/components/responses/Problem403"
     },
     "404": {
      "$ref": "#/components/responses/Problem404"
     },
     "409": {
      "$ref": "#/components/responses/Problem409"
     },
     "412": {
      "$ref": "#/components/responses/Problem412"
     },
     "413": {
      "$ref": "#/components/responses/Problem413"
     },
     "415": {
      "$ref": "#/components/responses/Problem415"
     },
     "422": {
      "$ref": "#/components/responses/Problem422"
     }
    },
    "security": [
     {
      "bearerAuth": []
     }
    ],
    "summary": "Give a confidential OIDC client a new secret (shown once in this response)",
    "tags": [
     "admin"
    ]
   }
  },
  "/api/admin/v1/audit-events": {
   "get": {
    "operationId": "listAuditEvents",
    "parameters": [
     {
      "in": "query",
      "name": "limit",
      "schema": {
       "default": 50,
       "maximum": 200,
       "minimum": 1,
       "type": "integer"
      }
     },
     {
      "description": "next_cursor of the previous page",
      "in": "query",
      "name": "cursor",
      "schema": {
       "type": "string"
      }
     }
    ],
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "properties": {
          "items": {
           "items": {
            "$ref": "#/components/schemas/AuditEvent"
           },
           "type": "array"
          },
          "next_cursor": {
           "type": [
            "string",
            "null"
           ]
          }
         },
         "required": [
          "items"
         ],
         "type": "object"
        }
       }
      },
      "description": "A page of events"
     },
     "400": {
      "$ref": "#/components/responses/Problem400"
     },
     "401": {
      "$ref": "#/components/responses/Problem401"
     },
     "403": {
      "$ref": "#/components/responses/Problem403"
     }
    },
    "security": [
     {
      "bearerAuth": []
     }
    ],
    "summary": "List audit events, newest first",
    "tags": [
     "admin"
    ]
   }
  },
  "/api/admin/v1/keys": {
   "get": {
    "operationId": "listKeys",
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "properties": {
          "items": {
           "items": {
            "$ref": "#/components/schemas/Key"
           },
           "type": "array"
          },
          "next_cursor": {
           "type": [
            "string",
            "null"
           ]
          }
         },
         "required": [
          "items"
         ],
         "type": "object"
        }
       }
      },
      "description": "Keys"
     },
     "401": {
      "$ref": "#/components/responses/Problem401"
     },
     "403": {
      "$ref": "#/components/responses/Problem403"
     }
    },
    "security": [
     {
      "bearerAuth": []
     }
    ],
    "summary": "List the tenant's signing keys (public data only)",
    "tags": [
     "admin"
    ]
   }
  },
  "/api/admin/v1/keys/rotate": {
   "post": {
    "operationId": "rotateKeys",
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "properties": {
          "items": {
           "items": {
            "$ref": "#/components/schemas/Key"
           },
           "type": "array"
          },
          "next_cursor": {
           "type": [
            "string",
            "null"
           ]
          }
         },
         "required": [
          "items"
         ],
         "type": "object"
        }
       }
      },
      "description": "Keys after rotation"
     },
     "401": {
      "$ref": "#/components/responses/Problem401"
     },
     "403": {
      "$ref": "#/components/responses/Problem403"
     },
     "409": {
      "$ref": "#/components/responses/Problem409"
     }
    },
    "security": [
     {
      "bearerAuth": []
     }
    ],
    "summary": "Rotate signing keys: next \u2192 current \u2192 previous, new next",
    "tags": [
     "admin"
    ]
   }
  },
  "/api/admin/v1/openapi.json": {
   "get": {
    "operationId": "getOpenAPIDocument",
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "type": "object"
        }
       }
      },
      "description": "OpenAPI 3.1 document"
     }
    },
    "security": [],
    "summary": "This document",
    "tags": [
     "admin"
    ]
   }
  },
  "/api/admin/v1/tenants": {
   "get": {
    "operationId": "listTenants",
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "properties": {
          "items": {
           "items": {
            "$ref": "#/components/schemas/Tenant"
           },
           "type": "array"
          },
          "next_cursor": {
           "type": [
            "string",
            "null"
           ]
          }
         },
         "required": [
          "items"
         ],
         "type": "object"
        }
       }
      },
      "description": "Tenants"
     },
     "401": {
      "$ref": "#/components/responses/Problem401"
     },
     "403": {
      "$ref": "#/components/responses/Problem403"
     }
    },
    "security": [
     {
      "bearerAuth": []
     }
    ],
    "summary": "List tenants (global token)",
    "tags": [
     "admin"
    ]
   },
   "post": {
    "operationId": "createTenant",
    "requestBody": {
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/CreateTenant"
       }
      }
     },
     "required": true
    },
    "responses": {
     "201": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Tenant"
        }
       }
      },
      "description": "Created"
     },
     "400": {
      "$ref": "#/components/responses/Problem400"
     },
     "401": {
      "$ref": "#/components/responses/Problem401"
     },
     "403": {
      "$ref": "#/components/responses/Problem403"
     },
     "409": {
      "$ref": "#/components/responses/Problem409"
     },
     "413": {
      "$ref": "#/components/responses/Problem413"
     },
     "415": {
      "$ref": "#/components/responses/Problem415"
     },
     "422": {
      "$ref": "#/components/responses/Problem422"
     }
    },
    "security": [
     {
      "bearerAuth": []
     }
    ],
    "summary": "Create a tenant with its signing keys (global token)",
    "tags": [
     "admin"
    ]
   }
  },
  "/api/admin/v1/users": {
   "get": {
    "operationId": "listUsers",
    "parameters": [
     {
      "in": "query",
      "name": "limit",
      "schema": {
       "default": 50,
       "maximum": 200,
       "minimum": 1,
       "type": "integer"
      }
     },
     {
      "description": "next_cursor of the previous page",
      "in": "query",
      "name": "cursor",
      "schema": {
       "type": "string"
      }
     }
    ],
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "properties": {
          "items": {
           "items": {
            "$ref": "#/components/schemas/User"
           },
           "type": "array"
          },
          "next_cursor": {
           "type": [
            "string",
            "null"
           ]
          }
         },
         "required": [
          "items"
         ],
         "type": "object"
        }
       }
      },
      "description": "A page of users"
     },
     "400": {
      "$ref": "#/components/responses/Problem400"
     },
     "401": {
      "$ref": "#/components/responses/Problem401"
     },
     "403": {
      "$ref": "#/components/responses/Problem403"
     }
    },
    "security": [
     {
      "bearerAuth": []
     }
    ],
    "summary": "List the tenant's users",
    "tags": [
     "admin"
    ]
   },
   "post": {
    "operationId": "createUser",
    "requestBody": {
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/CreateUser"
       }
      }
     },
     "required": true
    },
    "responses": {
     "201": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/User"
        }
       }
      },
      "description": "Created"
     },
     "400": {
      "$ref": "#/components/responses/Problem400"
     },
     "401": {
      "$ref": "#/components/responses/Problem401"
     },
     "403": {
      "$ref": "#/components/responses/Problem403"
     },
     "409": {
      "$ref": "#/components/responses/Problem409"
     },
     "413": {
      "$ref": "#/components/responses/Problem413"
     },
     "415": {
      "$ref": "#/components/responses/Problem415"
     },
     "422": {
      "$ref": "#/components/responses/Problem422"
     }
    },
    "security": [
     {
      "bearerAuth": []
     }
    ],
    "summary": "Create a user",
    "tags": [
     "admin"
    ]
   }
  },
  "/api/admin/v1/users/{id}/sessions": {
   "delete": {
    "description": "Ends every active browser session of the user: the sessions' OAuth grants (and refresh tokens) are revoked and the OIDC clients with a backchannel_logout_uri receive logout tokens",
    "operationId": "revokeUserSessions",
    "parameters": [
     {
      "in": "path",
      "name": "id",
      "required": true,
      "schema": {
       "type": "string"
      }
     }
    ],
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "properties": {
          "revoked": {
           "type": "integer"
          }
         },
         "type": "object"
        }
       }
      },
      "description": "How many sessions were ended"
     },
     "401": {
      "$ref": "#/components/responses/Problem401"
     },
     "403": {
      "$ref": "#/components/responses/Problem403"
     },
     "404": {
      "$ref": "#/components/responses/Problem404"
     }
    },
    "security": [
     {
      "bearerAuth": []
     }
    ],
    "summary": "Sign a user out everywhere",
    "tags": [
     "admin"
    ]
   }
  },
  "/api/admin/v1/users/{id}": {
   "delete": {
    "operationId": "deleteUser",
    "parameters": [
     {
      "in": "path",
      "name": "id",
      "required": true,
      "schema": {
       "type": "string"
      }
     },
     {
      "description": "ETag from a previous read; the change is refused with 412 if the resource changed since",
      "in": "header",
      "name": "If-Match",
      "required": false,
      "schema": {
       "pattern": "^(|\\*|(W/)?\"[0-9]+\")$",
       "type": "string"
      }
     }
    ],
    "responses": {
     "204": {
      "description": "Deleted"
     },
     "400": {
      "$ref": "#/components/responses/Problem400"
     },
     "401": {
      "$ref": "#/components/responses/Problem401"
     },
     "403": {
      "$ref": "#/components/responses/Problem403"
     },
     "404": {
      "$ref": "#/components/responses/Problem404"
     },
     "412": {
      "$ref": "#/components/responses/Problem412"
     }
    },
    "security": [
     {
      "bearerAuth": []
     }
    ],
    "summary": "Delete a user",
    "tags": [
     "admin"
    ]
   },
   "get": {
    "operationId": "getUser",
    "parameters": [
     {
      "in": "path",
      "name": "id",
      "required": true,
      "schema": {
       "type": "string"
      }
     }
    ],
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/User"
        }
       }
      },
      "description": "The user; ETag carries its version"
     },
     "401": {
      "$ref": "#/components/responses/Problem401"
     },
     "403": {
      "$ref": "#/components/responses/Problem403"
     },
     "404": {
      "$ref": "#/components/responses/Problem404"
     }
    },
    "security": [
     {
      "bearerAuth": []
     }
    ],
    "summary": "Read a user",
    "tags": [
     "admin"
    ]
   },
   "patch": {
    "operationId": "updateUser",
    "parameters": [
     {
      "in": "path",
      "name": "id",
      "required": true,
      "schema": {
       "type": "string"
      }
     },
     {
      "description": "ETag from a previous read; the change is refused with 412 if the resource changed since",
      "in": "header",
      "name": "If-Match",
      "required": false,
      "schema": {
       "pattern": "^(|\\*|(W/)?\"[0-9]+\")$",
       "type": "string"
      }
     }
    ],
    "requestBody": {
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/PatchUser"
       }
      }
     },
     "required": true
    },
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/User"
        }
       }
      },
      "description": "Updated"
     },
     "400": {
      "$ref": "#/components/responses/Problem400"
     },
     "401": {
      "$ref": "#/components/responses/Problem401"
     },
     "403": {
      "$ref": "#/components/responses/Problem403"
     },
     "404": {
      "$ref": "#/components/responses/Problem404"
     },
     "409": {
      "$ref": "#/components/responses/Problem409"
     },
     "412": {
      "$ref": "#/components/responses/Problem412"
     },
     "413": {
      "$ref": "#/components/responses/Problem413"
     },
     "415": {
      "$ref": "#/components/responses/Problem415"
     },
     "422": {
      "$ref": "#/components/responses/Problem422"
     }
    },
    "security": [
     {
      "bearerAuth": []
     }
    ],
    "summary": "Change a user's fields",
    "tags": [
     "admin"
    ]
   }
  },
  "/api/admin/v1/users/{id}/consents": {
   "get": {
    "operationId": "listUserConsents",
    "parameters": [
     {
      "in": "path",
      "name": "id",
      "required": true,
      "schema": {
       "type": "string"
      }
     }
    ],
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "properties": {
          "items": {
           "items": {
            "$ref": "#/components/schemas/Consent"
           },
           "type": "array"
          },
          "next_cursor": {
           "type": [
            "string",
            "null"
           ]
          }
         },
         "required": [
          "items"
         ],
         "type": "object"
        }
       }
      },
      "description": "The applications the user has approved (consent grants)"
     },
     "401": {
      "$ref": "#/components/responses/Problem401"
     },
     "403": {
      "$ref": "#/components/responses/Problem403"
     },
     "404": {
      "$ref": "#/components/responses/Problem404"
     }
    },
    "security": [
     {
      "bearerAuth": []
     }
    ],
    "summary": "List a user's consent grants",
    "tags": [
     "admin"
    ]
   }
  },
  "/api/admin/v1/users/{id}/consents/{client_id}": {
   "delete": {
    "operationId": "revokeUserConsent",
    "parameters": [
     {
      "in": "path",
      "name": "id",
      "required": true,
      "schema": {
       "type": "string"
      }
     },
     {
      "in": "path",
      "name": "client_id",
      "required": true,
      "schema": {
       "type": "string"
      }
     }
    ],
    "responses": {
     "204": {
      "description": "Revoked: the consent is deleted and every token the client holds for the user is revoked"
     },
     "401": {
      "$ref": "#/components/responses/Problem401"
     },
     "403": {
      "$ref": "#/components/responses/Problem403"
     },
     "404": {
      "$ref": "#/components/responses/Problem404"
     }
    },
    "security": [
     {
      "bearerAuth": []
     }
    ],
    "summary": "Revoke a user's consent for a client",
    "tags": [
     "admin"
    ]
   }
  },
  "/api/admin/v1/users/{id}/passkeys": {
   "get": {
    "operationId": "listUserPasskeys",
    "parameters": [
     {
      "in": "path",
      "name": "id",
      "required": true,
      "schema": {
       "type": "string"
      }
     }
    ],
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "properties": {
          "items": {
           "items": {
            "$ref": "#/components/schemas/Passkey"
           },
           "type": "array"
          },
          "next_cursor": {
           "type": [
            "string",
            "null"
           ]
          }
         },
         "required": [
          "items"
         ],
         "type": "object"
        }
       }
      },
      "description": "The user's passkeys"
     },
     "401": {
      "$ref": "#/components/responses/Problem401"
     },
     "403": {
      "$ref": "#/components/responses/Problem403"
     },
     "404": {
      "$ref": "#/components/responses/Problem404"
     }
    },
    "security": [
     {
      "bearerAuth": []
     }
    ],
    "summary": "List a user's passkeys",
    "tags": [
     "admin"
    ]
   }
  },
  "/api/admin/v1/users/{id}/passkeys/{credential_id}/clear-clone-warning": {
   "post": {
    "operationId": "clearPasskeyCloneWarning",
    "parameters": [
     {
      "in": "path",
      "name": "id",
      "required": true,
      "schema": {
       "type": "string"
      }
     },
     {
      "in": "path",
      "name": "credential_id",
      "required": true,
      "schema": {
       "type": "string"
      }
     }
    ],
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Passkey"
        }
       }
      },
      "description": "The passkey, its warning cleared and its stored sign count reset to 0"
     },
     "401": {
      "$ref": "#/components/responses/Problem401"
     },
     "403": {
      "$ref": "#/components/responses/Problem403"
     },
     "404": {
      "$ref": "#/components/responses/Problem404"
     }
    },
    "security": [
     {
      "bearerAuth": []
     }
    ],
    "summary": "Clear a passkey's possible-clone warning after checking it",
    "tags": [
     "admin"
    ]
   }
  }
 },
 "servers": [
  {
   "url": "/"
  }
 ]
}
"""#
}
